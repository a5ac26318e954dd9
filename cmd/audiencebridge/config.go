package main

import (
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

// Config is the whole configuration of a process, from flags and AB_
// environment variables (a flag wins over its variable).
type Config struct {
	Addr          string
	Database      string
	SessionSecret string
	SessionIdle   time.Duration
	SessionMaxAge time.Duration
	Demo          bool
	TrustProxy    bool
	TLSCert       string
	TLSKey        string
	LogFormat     string
	MaxUploadMB   int64
	LibraryDrop   string
	// NoWorker makes serve a console and API only, leaving the jobs to
	// worker processes.
	NoWorker bool
	// MetricsToken lets a scraper that is not on this machine read /metrics.
	MetricsToken string
	// ShutdownTimeout bounds how long running jobs may take to finish on
	// SIGTERM before they are handed back.
	ShutdownTimeout time.Duration
	// AllowPrivateWebhooks lets notification webhooks call loopback,
	// private and link-local addresses (--demo turns it on too).
	AllowPrivateWebhooks bool
}

// DefaultDatabase is the SQLite file used when --database is not given.
const DefaultDatabase = "data/audiencebridge.db"

// envOr returns the environment variable's value, or def when it is unset.
func envOr(name, def string) string {
	if v, ok := os.LookupEnv(name); ok {
		return v
	}
	return def
}

// configFlags binds the settings a command uses; which ones depends on it.
type configFlags struct {
	fs     *flag.FlagSet
	cfg    *Config
	errors []string
	durs   map[string]*string
}

func newConfigFlags(fs *flag.FlagSet, cfg *Config) *configFlags {
	return &configFlags{fs: fs, cfg: cfg, durs: map[string]*string{}}
}

func (b *configFlags) str(p *string, name, env, def, usage string) {
	b.fs.StringVar(p, name, envOr(env, def), usage+" (env "+env+")")
}

func (b *configFlags) dur(name, env, def, usage string) {
	b.durs[name] = b.fs.String(name, envOr(env, def), usage+" (env "+env+")")
}

func (b *configFlags) boolean(p *bool, name, env, usage string) {
	def := false
	if raw, ok := os.LookupEnv(env); ok {
		v, err := strconv.ParseBool(raw)
		if err != nil {
			b.fail(name, "must be true or false, not %q", raw)
		}
		def = v
	}
	b.fs.BoolVar(p, name, def, usage+" (env "+env+")")
}

func (b *configFlags) database() {
	b.str(&b.cfg.Database, "database", "AB_DATABASE", DefaultDatabase, "SQLite file path, or a postgres:// URL")
}

func (b *configFlags) server() {
	b.database()
	b.str(&b.cfg.Addr, "addr", "AB_ADDR", "127.0.0.1:8080", "address to listen on")
	b.str(&b.cfg.SessionSecret, "session-secret", "AB_SESSION_SECRET", "", "secret of at least 32 characters that signs and encrypts session cookies")
	b.dur("session-idle", "AB_SESSION_IDLE", "30m", "sign an operator out after this long without activity")
	b.dur("session-max-age", "AB_SESSION_MAX_AGE", "12h", "sign an operator out this long after sign-in")
	b.boolean(&b.cfg.Demo, "demo", "AB_DEMO", "on an empty database, create demo operators and print how to sign in")
	b.boolean(&b.cfg.TrustProxy, "trust-proxy", "AB_TRUST_PROXY", "take the client address and scheme from X-Forwarded-For/-Proto (only behind your own proxy)")
	b.str(&b.cfg.TLSCert, "tls-cert", "AB_TLS_CERT", "", "serve HTTPS with this certificate file")
	b.str(&b.cfg.TLSKey, "tls-key", "AB_TLS_KEY", "", "private key file of --tls-cert")
	b.str(&b.cfg.LogFormat, "log-format", "AB_LOG_FORMAT", "auto", "log format: auto (JSON unless a terminal), json or text")
	b.int(&b.cfg.MaxUploadMB, "max-upload-mb", "AB_MAX_UPLOAD_MB", 512, "largest file accepted for an import, in megabytes")
	b.str(&b.cfg.LibraryDrop, "library-drop", "AB_LIBRARY_DROP", "", "folder watched for Audience Manager batch files (ftp_dpm_<DPID>_<time>.sync|.overwrite[.N][.gz])")
	b.str(&b.cfg.MetricsToken, "metrics-token", "AB_METRICS_TOKEN", "", "bearer token a Prometheus scraper sends for /metrics (without it, /metrics answers only this machine)")
	b.boolean(&b.cfg.NoWorker, "no-worker", "AB_NO_WORKER", "serve the console and API only; `audiencebridge worker` processes run the jobs (PostgreSQL)")
	b.dur("shutdown-timeout", "AB_SHUTDOWN_TIMEOUT", "30s", "on SIGTERM, how long running jobs may take to finish before they are handed back")
	b.boolean(&b.cfg.AllowPrivateWebhooks, "allow-private-webhooks", "AB_ALLOW_PRIVATE_WEBHOOKS", "let notification webhooks call loopback, private-network and link-local addresses (refused by default; --demo allows them)")
}

// worker binds the settings of the worker command.
func (b *configFlags) worker() {
	b.database()
	b.str(&b.cfg.Addr, "addr", "AB_WORKER_ADDR", "127.0.0.1:8081", "address of the worker's /healthz, /readyz and /metrics")
	b.str(&b.cfg.SessionSecret, "session-secret", "AB_SESSION_SECRET", "", "the consoles' session secret: it unseals the external accounts' secrets")
	b.str(&b.cfg.LogFormat, "log-format", "AB_LOG_FORMAT", "auto", "log format: auto (JSON unless a terminal), json or text")
	b.dur("shutdown-timeout", "AB_SHUTDOWN_TIMEOUT", "30s", "on SIGTERM, how long running jobs may take to finish before they are handed back")
	b.boolean(&b.cfg.AllowPrivateWebhooks, "allow-private-webhooks", "AB_ALLOW_PRIVATE_WEBHOOKS", "let notification webhooks call loopback, private-network and link-local addresses (refused by default; --demo allows them)")
	b.cfg.MaxUploadMB = 1
}

func (b *configFlags) int(p *int64, name, env string, def int64, usage string) {
	if raw, ok := os.LookupEnv(env); ok {
		v, err := strconv.ParseInt(raw, 10, 64)
		if err != nil {
			b.fail(name, "must be a whole number, not %q", raw)
		}
		def = v
	}
	b.fs.Int64Var(p, name, def, usage+" (env "+env+")")
}

// parse reads the arguments and checks every setting, reporting all problems
// at once, each naming its flag and variable.
func (b *configFlags) parse(args []string) error {
	if err := b.fs.Parse(args); err != nil {
		return err
	}
	if b.fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", b.fs.Arg(0))
	}
	for name, raw := range b.durs {
		d, err := time.ParseDuration(*raw)
		if err != nil || d <= 0 {
			b.fail(name, "must be a positive duration such as 30m or 12h, not %q", *raw)
			continue
		}
		switch name {
		case "session-idle":
			b.cfg.SessionIdle = d
		case "session-max-age":
			b.cfg.SessionMaxAge = d
		case "shutdown-timeout":
			b.cfg.ShutdownTimeout = d
		}
	}
	b.validate()
	if len(b.errors) > 0 {
		return errors.New("invalid configuration:\n  " + strings.Join(b.errors, "\n  "))
	}
	return nil
}

func (b *configFlags) fail(flagName, format string, args ...any) {
	env := "AB_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
	b.errors = append(b.errors, fmt.Sprintf("--%s (%s) %s", flagName, env, fmt.Sprintf(format, args...)))
}

func (b *configFlags) validate() {
	c := b.cfg
	if b.fs.Lookup("database") != nil && strings.TrimSpace(c.Database) == "" {
		b.fail("database", "must name an SQLite file or a postgres:// URL")
	}
	if b.fs.Lookup("addr") == nil {
		return
	}
	if _, port, err := net.SplitHostPort(c.Addr); err != nil || port == "" {
		b.fail("addr", "must be host:port, such as 127.0.0.1:8080 or :8080, not %q", c.Addr)
	}
	if c.SessionSecret != "" && len(c.SessionSecret) < 32 {
		b.fail("session-secret", "must be at least 32 characters (try: openssl rand -hex 32)")
	}
	if c.SessionSecret == "" && !c.Demo && b.fs.Lookup("demo") == nil {
		b.fail("session-secret", "is required: give the consoles' session secret, which unseals the external accounts' secrets")
	} else if c.SessionSecret == "" && !c.Demo {
		b.fail("session-secret", "is required outside demo mode: set 32 or more random characters (try: openssl rand -hex 32)")
	}
	if c.SessionIdle > 0 && c.SessionMaxAge > 0 && c.SessionMaxAge < c.SessionIdle {
		b.fail("session-max-age", "must not be shorter than --session-idle")
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		b.fail("tls-cert", "and --tls-key go together: give both or neither")
	}
	if c.LibraryDrop != "" {
		if st, err := os.Stat(c.LibraryDrop); err != nil || !st.IsDir() {
			b.fail("library-drop", "must name an existing folder, not %q", c.LibraryDrop)
		}
	}
	if c.NoWorker && !strings.HasPrefix(c.Database, "postgres") {
		b.fail("no-worker", "needs a PostgreSQL database: on SQLite, one process runs the console and the worker")
	}
	if c.MaxUploadMB < 1 || c.MaxUploadMB > 1<<20 {
		b.fail("max-upload-mb", "must be between 1 and 1048576")
	}
	switch c.LogFormat {
	case "auto", "json", "text":
	default:
		b.fail("log-format", "must be auto, json or text, not %q", c.LogFormat)
	}
}

// sessionSecret returns the configured secret, or in demo mode a random one
// that lasts as long as the process.
func (c *Config) sessionSecret() ([]byte, bool, error) {
	if c.SessionSecret != "" {
		return []byte(c.SessionSecret), false, nil
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return nil, false, fmt.Errorf("generate a session secret: %w", err)
	}
	return b, true, nil
}
