package config

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"time"

	"github.com/kinflow/kinflow/internal/settings"
)

// problems collects a configuration's problems, one per line, each naming the setting as the user set it.
type problems struct {
	c    *Config
	errs []error
	bad  []string // settings whose own value is wrong: a rule between settings says nothing more of them
}

// name is how the user set env: the variable, and its flag when the command has flags.
func (p *problems) name(env string) string {
	if s, ok := settings.Lookup(env); ok && p.c.flags && s.Flag() != "" {
		return env + " (flag -" + s.Flag() + ")"
	}
	return env
}

// valued is env with its value, as the user set it: "KINFLOW_IDLE_AFTER=-1s", "... (flag -idle-after)".
func (p *problems) valued(s settings.Setting, v string) string {
	name := s.Env + "=" + shown(s, v)
	if p.c.flags && s.Flag() != "" {
		name += " (flag -" + s.Flag() + ")"
	}
	return name
}

// setting reports a problem of one setting: "KINFLOW_IDLE_AFTER=-1s: want a positive duration".
func (p *problems) setting(s settings.Setting, v string, err error) {
	p.errs = append(p.errs, fmt.Errorf("%s: %w", p.valued(s, v), err))
	p.bad = append(p.bad, s.Env)
}

// value is valued for a setting of the registry, by name.
func (p *problems) value(env string) string {
	s, _ := settings.Lookup(env)
	v, _ := p.c.Setting(env)
	return p.valued(s, v)
}

// rule reports a problem between settings, unless the value of one of them is wrong already (fixing it may
// settle the rule). The message names them.
func (p *problems) rule(envs []string, format string, args ...any) {
	if slices.ContainsFunc(envs, func(e string) bool { return slices.Contains(p.bad, e) }) {
		return
	}
	p.errs = append(p.errs, fmt.Errorf(format, args...))
}

func (p *problems) err() error { return errors.Join(p.errs...) }

// Validate reports every problem at once, each once, naming the setting: every runtime setting against its
// registry row (and a format's grammar), then the rules between settings. The parts' own Validate methods are
// asked only when that finds nothing, as a net: they speak of Go fields, and the same prefix or window would be
// reported by each part that holds it.
func (c Config) Validate() error {
	return c.check().err()
}

// check is Validate's problems, for the runtimes' validations to add to.
func (c Config) check() *problems {
	p := &problems{c: &c}
	b := bindings()
	for _, s := range settings.All() {
		if s.Env == "" {
			continue
		}
		bind := b[s.Env]
		v := bind.get(&c)
		if err := s.Check(v); err != nil {
			p.setting(s, v, err)
			continue
		}
		if bind.check != nil {
			if err := bind.check(&c); err != nil {
				p.errs = append(p.errs, fmt.Errorf("%s: %w", p.name(s.Env), err))
				p.bad = append(p.bad, s.Env)
			}
		}
	}
	c.rules(p)
	if len(p.errs) == 0 {
		// The registry's checks are meant to cover the parts' own; should one part still object, the start-up
		// fails here, in the part's words, rather than when the part is built.
		p.errs = append(p.errs, c.partsValidate()...)
	}
	return p
}

// rules are the constraints between settings.
func (c Config) rules(p *problems) {
	s, w := c.Sink, c.Webhook
	if s.Kind == SinkElasticsearch && s.SigV4Region != "" {
		p.rule([]string{settings.SinkAWSRegion, settings.SinkKind}, "%s: SigV4 signing applies to %s=%s only",
			p.name(settings.SinkAWSRegion), settings.SinkKind, SinkOpenSearch)
	}
	if s.Kind == SinkOpenSearch && s.APIKey != "" {
		p.rule([]string{settings.SinkAPIKey, settings.SinkKind}, "%s: applies to %s=%s only",
			settings.SinkAPIKey, settings.SinkKind, SinkElasticsearch)
	}
	if s.Kind == SinkOpenSearch && s.SigV4Region != "" && s.Username != "" {
		p.rule([]string{settings.SinkUsername, settings.SinkAWSRegion}, "%s and %s: basic auth and SigV4 exclude each other; set one",
			p.name(settings.SinkUsername), p.name(settings.SinkAWSRegion))
	}
	if s.Password != "" && s.Username == "" {
		p.rule([]string{settings.SinkPassword, settings.SinkUsername}, "%s: set without %s",
			settings.SinkPassword, p.name(settings.SinkUsername))
	}
	if w.Secret != "" && w.SecretARN != "" {
		p.rule([]string{settings.WebhookSecret, settings.WebhookSecretARN}, "%s and %s: set one, not both",
			settings.WebhookSecret, p.name(settings.WebhookSecretARN))
	}
	if aw := c.AlertsWebhook; aw.Secret != "" && aw.SecretARN != "" {
		p.rule([]string{settings.AlertsWebhookSecret, settings.AlertsWebhookSecretARN}, "%s and %s: set one, not both",
			settings.AlertsWebhookSecret, p.name(settings.AlertsWebhookSecretARN))
	}
	f, a := c.Finalizer, c.Pipeline.Aggregate
	if f.MaxDelay < a.AllowedLateness {
		p.rule([]string{settings.MaxDelay, settings.AllowedLateness}, "%s: want at least %s (%v)",
			p.value(settings.MaxDelay), settings.AllowedLateness, a.AllowedLateness)
	}
	// The finalizer reads a window's partials until the newest flow is the horizon past it; an index holds a day of
	// windows and ages from its creation, so it must outlive the horizon by that day. Deleted sooner, a late
	// partial would re-create the index alone and the window's next revision would lose the rest.
	if r := c.Sink.Retention.Partials; r > 0 && r < f.Horizon+24*time.Hour {
		p.rule([]string{settings.RetentionPartials, settings.CorrectionHorizon}, "%s: want 0 (forever) or at least %s + 24h (%v): the finalizer may still correct windows from partials that old",
			p.value(settings.RetentionPartials), settings.CorrectionHorizon, f.Horizon+24*time.Hour)
	}
	if d := f.Detect; d.Enabled && d.BaselineWindows < d.Rules.MinBaselineWindows {
		p.rule([]string{settings.DetectBaselineWindows, settings.DetectMinBaseline}, "%s: want at least %s (%d): a baseline shorter than the history it needs is never used",
			p.value(settings.DetectBaselineWindows), settings.DetectMinBaseline, d.Rules.MinBaselineWindows)
	}
	// Baselines are read from the final connection sets: deleted sooner, every IP looks new.
	if d, r := f.Detect, c.Sink.Retention.Conns; d.Enabled && r > 0 && r < time.Duration(d.BaselineWindows)*a.Window+24*time.Hour {
		p.rule([]string{settings.RetentionConns, settings.DetectBaselineWindows, settings.Window}, "%s: want 0 (forever) or at least %s × %s + 24h (%v): baselines are read from the final connection sets",
			p.value(settings.RetentionConns), settings.DetectBaselineWindows, settings.Window, time.Duration(d.BaselineWindows)*a.Window+24*time.Hour)
	}
	if f.Horizon < a.Window+f.MaxDelay {
		p.rule([]string{settings.CorrectionHorizon, settings.Window, settings.MaxDelay}, "%s: want at least %s + %s (%v)",
			p.value(settings.CorrectionHorizon), settings.Window, settings.MaxDelay, a.Window+f.MaxDelay)
	}
}

// partsValidate is every part's own Validate, as the parts are built from c.
func (c Config) partsValidate() []error {
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	add(c.Pipeline.Validate())
	add(c.Formats.Validate())
	switch c.Sink.Kind {
	case SinkElasticsearch:
		add(c.Elastic(nil).Validate())
	case SinkOpenSearch:
		add(c.OpenSearch(nil, nil).Validate())
	}
	add(c.FinalizerConfig().Validate())
	if c.Webhook.URL != "" {
		add(c.WebhookClientConfig().Validate())
	}
	if c.AlertsWebhook.URL != "" {
		add(c.AlertsWebhookClientConfig().Validate())
	}
	return errs
}

// ValidateConsumer adds to Validate what the KCL consumer needs.
func (c Config) ValidateConsumer() error {
	p := c.check()
	for _, env := range []string{settings.ApplicationName, settings.AWSRegion} {
		if v, _ := c.Setting(env); v == "" {
			p.rule([]string{env}, "%s: required", p.name(env))
		}
	}
	if c.StreamName == "" && c.Objects.QueueURL == "" {
		p.rule([]string{settings.StreamName, settings.SQSQueueURL}, "%s or %s: set one or both: the consumer reads a stream, a queue of S3 notifications, or both",
			p.name(settings.StreamName), p.name(settings.SQSQueueURL))
	}
	return p.err()
}

// ValidateLambda adds to Validate what the Lambda functions need.
func (c Config) ValidateLambda() error {
	p := c.check()
	if c.LambdaHandler == LambdaFinalizer && c.StateTable == "" {
		// The finalizer's lock, progress and window records live there; without it no pass can run.
		p.rule([]string{settings.StateTable}, "%s: required by %s=%s", settings.StateTable, settings.LambdaHandler, LambdaFinalizer)
	}
	return p.err()
}

// ValidateConsole adds to Validate what `consumer console` needs: an address it can listen on, and a token unless
// that address is loopback, so the console is never open to a network without one.
func (c Config) ValidateConsole() error {
	p := c.check()
	host, _, err := net.SplitHostPort(c.Console.Addr)
	switch {
	case err != nil:
		p.rule([]string{settings.ConsoleAddr}, "%s: want host:port (127.0.0.1:8080)", p.value(settings.ConsoleAddr))
	case c.Console.Token == "" && !LoopbackHost(host):
		p.rule([]string{settings.ConsoleAddr, settings.ConsoleToken}, "%s: not a loopback address, so %s is required",
			p.value(settings.ConsoleAddr), settings.ConsoleToken)
	}
	return p.err()
}

// LoopbackHost reports whether host (of a listen address) accepts connections from this machine only: localhost or
// a loopback IP. An empty host or 0.0.0.0 listens on every interface.
func LoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}
