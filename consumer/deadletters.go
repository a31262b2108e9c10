package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/kinflow/kinflow/internal/assemble"
	"github.com/kinflow/kinflow/internal/config"
	"github.com/kinflow/kinflow/internal/redrive"
)

// runDeadLetters is `consumer deadletters list|show|redrive`: the dead-letter index for a person. It takes the
// same settings as `consumer run`, so a redrive runs the current configuration: a fixed format override, a raised
// limit, a fixed mapping are simply what the command is started with.
func runDeadLetters(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	sub := ""
	if len(args) > 0 {
		sub, args = args[0], args[1:]
	}
	switch sub {
	case "list":
		return deadLettersList(ctx, args, stdout, stderr)
	case "show":
		return deadLettersShow(ctx, args, stdout, stderr)
	case "redrive":
		return deadLettersRedrive(ctx, args, stdout, stderr)
	}
	fmt.Fprint(stderr, `usage: consumer deadletters list    [selection flags] [-json] [flags]   count by stage, reason, log group, day, status
       consumer deadletters show ID [-json] [flags]                     one letter and its original, decoded
       consumer deadletters redrive [selection flags] [-dry-run=false] [-json] [flags]
                                                                        redrive through the current configuration
                                                                        (a dry run unless -dry-run=false)
Flags: the settings of consumer run (see consumer deadletters list -h).
`)
	return errUsage
}

// selectionFlags binds the flags of a Selection.
type selectionFlags struct {
	stages, reasons, groups, ids, from, to string
	limit                                  int
	includeRedriven                        bool
}

func (f *selectionFlags) bind(fs *flag.FlagSet, redriving bool) {
	fs.StringVar(&f.stages, "stage", "", "only these `stages` (comma-separated: decode, parse, index, webhook)")
	fs.StringVar(&f.reasons, "reason", "", "only these `reasons` (comma-separated: field_count, not_gzip, ...)")
	fs.StringVar(&f.groups, "log-group", "", "only these log `groups` (comma-separated, exact names)")
	fs.StringVar(&f.ids, "id", "", "only these letter `ids` (comma-separated)")
	fs.StringVar(&f.from, "from", "", "only letters made at or after `time` (RFC 3339, or YYYY-MM-DD)")
	fs.StringVar(&f.to, "to", "", "only letters made before `time` (RFC 3339, or YYYY-MM-DD)")
	fs.BoolVar(&f.includeRedriven, "include-redriven", false, "also letters a redrive already marked succeeded")
	if redriving {
		fs.IntVar(&f.limit, "limit", 0, "stop after about `n` selected letters (whole records); 0: all")
	}
}

func (f *selectionFlags) selection() (redrive.Selection, error) {
	split := func(s string) []string {
		var out []string
		for _, v := range strings.Split(s, ",") {
			if v = strings.TrimSpace(v); v != "" {
				out = append(out, v)
			}
		}
		return out
	}
	sel := redrive.Selection{Stages: split(f.stages), Reasons: split(f.reasons), LogGroups: split(f.groups),
		IDs: split(f.ids), Limit: f.limit, IncludeRedriven: f.includeRedriven}
	var errs []error
	parse := func(name, v string) time.Time {
		if v == "" {
			return time.Time{}
		}
		for _, layout := range []string{time.RFC3339Nano, time.DateOnly} {
			if t, err := time.Parse(layout, v); err == nil {
				return t
			}
		}
		errs = append(errs, fmt.Errorf("-%s %q: want RFC 3339 (2026-11-23T12:00:00Z) or YYYY-MM-DD", name, v))
		return time.Time{}
	}
	sel.From, sel.To = parse("from", f.from), parse("to", f.to)
	return sel, errors.Join(append(errs, sel.Validate())...)
}

// openRedriver loads the settings (and the command's own flags, bound by bind) and builds the redriver.
func openRedriver(ctx context.Context, usage, summary string, args []string, stderr io.Writer,
	bind func(*flag.FlagSet)) (*redrive.Redriver, config.Config, error) {
	cfg, log, awsCfg, err := startWith(ctx, usage, summary, args, stderr, config.Config.Validate, bind)
	if err != nil {
		return nil, cfg, err
	}
	r, err := assemble.Redriver(ctx, cfg, awsCfg, nil, log)
	return r, cfg, err
}

func closeRedriver(ctx context.Context, r *redrive.Redriver) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	r.Close(ctx)
}

func deadLettersList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var sf selectionFlags
	asJSON := false
	r, _, err := openRedriver(ctx, "deadletters list", "Counts dead letters by stage, reason, log group, day and redrive status.",
		args, stderr, func(fs *flag.FlagSet) {
			sf.bind(fs, false)
			fs.BoolVar(&asJSON, "json", false, "print JSON instead of a table")
		})
	if err != nil {
		return err
	}
	defer closeRedriver(ctx, r)
	sel, err := sf.selection()
	if err != nil {
		return err
	}
	groups, total, err := r.Store().Count(ctx, sel)
	if err != nil {
		return err
	}
	if asJSON {
		return json.NewEncoder(stdout).Encode(map[string]any{"total": total, "groups": groups})
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STAGE\tREASON\tLOG GROUP\tDAY\tSTATUS\tCOUNT")
	for _, g := range groups {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\n", g.Stage, g.Reason, g.LogGroup, g.Day, g.Status, g.Count)
	}
	fmt.Fprintf(tw, "total\t\t\t\t\t%d\n", total)
	return tw.Flush()
}

func deadLettersShow(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	id := ""
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		id, args = args[0], args[1:]
	}
	r, cfg, err := openRedriver(ctx, "deadletters show ID", "Shows one dead letter and its original, decoded.", args, stderr, nil)
	if err != nil {
		return err
	}
	defer closeRedriver(ctx, r)
	if id == "" {
		fmt.Fprintln(stderr, "usage: consumer deadletters show ID [flags]")
		return errUsage
	}
	l, err := r.Store().Get(ctx, id)
	if err != nil {
		return err
	}
	dec, err := l.Decode(cfg.Pipeline.Decode)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(map[string]any{"letter": l, "decoded": dec})
}

func deadLettersRedrive(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var sf selectionFlags
	dryRun, asJSON := true, false
	r, _, err := openRedriver(ctx, "deadletters redrive", "Redrives dead letters through the current configuration: a dry run "+
		"(nothing written) unless -dry-run=false.", args, stderr, func(fs *flag.FlagSet) {
		sf.bind(fs, true)
		fs.BoolVar(&dryRun, "dry-run", true, "only report what would succeed and what would fail; -dry-run=false writes")
		fs.BoolVar(&asJSON, "json", false, "print the report as JSON")
	})
	if err != nil {
		return err
	}
	defer closeRedriver(ctx, r)
	sel, err := sf.selection()
	if err != nil {
		return err
	}
	rep, err := r.Redrive(ctx, sel, dryRun)
	if asJSON {
		if jerr := json.NewEncoder(stdout).Encode(rep); jerr != nil {
			return errors.Join(err, jerr)
		}
		return err
	}
	printReport(stdout, rep)
	return err
}

// printReport prints a redrive's report for a person: the totals, then the outcome by stage and reason.
func printReport(w io.Writer, rep redrive.Report) {
	verb := "redrove"
	if rep.DryRun {
		verb = "dry run (nothing written):"
	}
	fmt.Fprintf(w, "%s %d letters of %d records (%d selected): %d succeeded, %d failed, %d skipped; %d flows\n",
		verb, rep.Letters, rep.Records, rep.Selected, rep.Succeeded, rep.Failed, rep.Skipped, rep.Flows)
	if rep.MissingTimestamp > 0 {
		fmt.Fprintf(w, "%d events had no event_timestamp (letters from before kinflow kept it): their flows get new ids\n", rep.MissingTimestamp)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STAGE\tREASON\tRESULT\tNEW STAGE\tNEW REASON\tCOUNT")
	for _, g := range rep.Groups {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\n", g.Stage, g.Reason, g.Result, dash(g.NewStage), dash(g.NewReason), g.Count)
	}
	tw.Flush()
	if rep.DryRun && rep.Letters > 0 {
		fmt.Fprintln(w, "run again with -dry-run=false to redrive")
	}
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
