// Package config loads a service's Config struct from command-line flags and
// TAMKEEN_… environment variables, validates it and reports every problem at
// once, in words an operator can act on.
//
// # Describing settings
//
// Each setting is a struct field with tags:
//
//	type Config struct {
//		GRPCAddr  string        `flag:"grpc-addr" default:"127.0.0.1:9090" usage:"gRPC listen address" required:"true"`
//		TokenTTL  time.Duration `flag:"token-ttl" default:"10m" usage:"access token lifetime"`
//		DBPass    string        `flag:"db-password" usage:"database password" secret:"true"`
//		Auth      AuthConfig    `prefix:"auth-"`
//	}
//
// The tags:
//
//   - flag: the flag name (without dashes). Fields without a flag tag, and
//     fields tagged flag:"-", are not configuration and are left alone.
//   - env: the environment variable name after the TAMKEEN_ prefix; by default
//     the flag name upper-cased with '-' turned into '_' (grpc-addr →
//     TAMKEEN_GRPC_ADDR).
//   - default: the value used when neither a flag nor the environment sets one.
//   - usage: the help text; the environment variable is appended to it.
//   - secret:"true": the value is never shown (Describe prints "[redacted]",
//     error messages do not quote it) and may also be read from a file named by
//     TAMKEEN_<ENV>_FILE (Kubernetes secrets mounted as files); trailing
//     newlines of the file are trimmed. Setting both the variable and its _FILE
//     twin is an error. Prefer _FILE (or the variable) to the flag for
//     secrets: command lines are visible to every user of the machine.
//   - required:"true": after all sources are applied the field must not be its
//     zero value ("" / 0 / false / empty list).
//   - prefix on a nested struct field: the nested fields' flag names get the
//     prefix ("auth-" → --auth-token-ttl) and their environment variables get
//     it upper-cased with '_' (TAMKEEN_AUTH_TOKEN_TTL). A nested struct without
//     a prefix tag (or an embedded struct) contributes its fields unprefixed.
//
// Supported field kinds: string, bool, int, int64, float64, time.Duration,
// []string (comma-separated; surrounding spaces and empty items are dropped; a
// repeated flag appends) and any type whose pointer implements
// encoding.TextUnmarshaler (slog.Level, netip.Addr, …). Named types with those
// underlying kinds work too.
//
// # Precedence
//
// flag > environment (or _FILE for secrets) > default tag > whatever the
// struct held before Load. An environment variable set to the empty string
// counts as unset, because manifests often template optional values as "".
// To force an empty value, pass the flag: --x=.
//
// # Loading
//
// In main:
//
//	var cfg payment.Config
//	fs := flag.NewFlagSet("payment", flag.ContinueOnError)
//	if err := config.Load(&cfg, fs, os.Args[1:], os.LookupEnv); err != nil {
//	if errors.Is(err, flag.ErrHelp) {
//		os.Exit(0)
//	}
//	fmt.Fprintln(os.Stderr, err)
//	os.Exit(2)
//	}
//	logger.LogAttrs(ctx, slog.LevelInfo, "starting", config.Describe(&cfg)...)
//
// A command that adds flags of its own calls Register first, defines its own
// flags on the same FlagSet and then calls Load with that FlagSet.
//
// Load returns *Error when the configuration is wrong. It lists every
// problem: values that do not parse, missing required settings and whatever
// the Config's Validate method reports, each naming the flag and the
// environment variable, e.g.
//
//	invalid configuration:
//	  --grpc-addr / TAMKEEN_GRPC_ADDR: required
//	  --token-ttl / TAMKEEN_TOKEN_TTL: "ten" is not a duration (e.g. 10m) (from TAMKEEN_TOKEN_TTL)
//
// Validate methods collect their findings with a Problems value, naming each
// setting by its flag name (or Go field path); Load adds the environment
// variable. A Validate finding about a setting that already failed to parse or
// is missing is dropped so that one mistake is reported once.
//
// A mistake in the struct itself (an unsupported kind, a default that does not
// parse, a duplicate name) is a programming error: Register and Load return an
// error wrapping ErrSpec instead of *Error.
package config
