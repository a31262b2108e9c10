package settings

import (
	"strings"
)

// EnvTable is the README's table of the runtimes' settings, one line per variable, in registry order.
func EnvTable() string {
	var b strings.Builder
	b.WriteString("| variable | flag | CDK context key | default | runtimes | meaning |\n|---|---|---|---|---|---|\n")
	for _, s := range All() {
		if s.Env == "" {
			continue
		}
		flag := code("-" + s.Flag())
		if s.Flag() == "" {
			flag = ""
		}
		for _, old := range s.OldFlags {
			flag += " (was " + code("-"+old) + ")"
		}
		row(&b, code(s.Env), flag, code(s.Context), s.defaultCell(false), (s.Runtimes &^ CDK).String(), s.meaning())
	}
	return b.String()
}

// ContextTable is the README's table of the CDK app's context keys: its own first, then those it passes to the
// runtimes as a variable, each in registry order.
func ContextTable() string {
	var b strings.Builder
	b.WriteString("| context key | default | sets | meaning |\n|---|---|---|---|\n")
	for _, passed := range []bool{false, true} {
		for _, s := range All() {
			if s.Context == "" || (s.Env != "") != passed {
				continue
			}
			row(&b, code(s.Context), s.defaultCell(true), code(s.Env), s.meaning())
		}
	}
	return b.String()
}

func (s Setting) defaultCell(cdk bool) string {
	switch {
	case cdk && s.ContextRequired:
		return "required"
	case s.DefaultText != "":
		return s.DefaultText
	}
	return code(s.Default)
}

// meaning is the help, the values the setting takes, and for a secret what that means.
func (s Setting) meaning() string {
	m := s.Help
	if c := s.constraint("`"); c != "" && !s.helpNamesAllowed() {
		m += "; " + c
	}
	if s.Secret {
		m = "**secret** (no flag, redacted when printed): " + m
	}
	return m
}

// helpNamesAllowed: the help already says each allowed value, as code.
func (s Setting) helpNamesAllowed() bool {
	for _, a := range s.Allowed {
		if !strings.Contains(s.Help, "`"+a+"`") {
			return false
		}
	}
	return len(s.Allowed) > 0
}

func row(b *strings.Builder, cells ...string) {
	b.WriteString("|")
	for _, c := range cells {
		b.WriteString(" " + strings.ReplaceAll(c, "|", `\|`) + " |")
	}
	b.WriteString("\n")
}

// code puts v between backquotes, or leaves an empty cell.
func code(v string) string {
	if v == "" {
		return ""
	}
	return "`" + v + "`"
}
