package config

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

type dbConfig struct {
	URL      string `flag:"url" usage:"database URL" secret:"true"`
	MaxConns int    `flag:"max-conns" default:"4" usage:"pool size"`
}

type testConfig struct {
	Addr      string        `flag:"grpc-addr" default:"127.0.0.1:9090" required:"true" usage:"gRPC listen address"`
	Debug     bool          `flag:"debug" usage:"verbose logs"`
	Workers   int           `flag:"workers" default:"2"`
	MaxBytes  int64         `flag:"max-bytes" default:"1048576"`
	Ratio     float64       `flag:"ratio" default:"0.5"`
	TTL       time.Duration `flag:"token-ttl" default:"10m"`
	Origins   []string      `flag:"cors-origins"`
	Level     slog.Level    `flag:"log-level" default:"info"`
	IP        netip.Addr    `flag:"bind-ip" env:"BIND"`
	Password  string        `flag:"password" secret:"true"`
	DB        dbConfig      `prefix:"db-"`
	NotConfig string
	//lint:ignore U1000 an unexported field Load must leave alone; never read on purpose.
	internal int
}

// defaults is what Load produces for testConfig with no input at all.
func defaults() testConfig {
	return testConfig{
		Addr:     "127.0.0.1:9090",
		Workers:  2,
		MaxBytes: 1 << 20,
		Ratio:    0.5,
		TTL:      10 * time.Minute,
		Level:    slog.LevelInfo,
		DB:       dbConfig{MaxConns: 4},
	}
}

func envFunc(env map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	}
}

// newFlagSet returns a FlagSet that does not write to the test's stderr.
func newFlagSet() *flag.FlagSet {
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

func TestLoadPrecedenceAndKinds(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		args []string
		edit func(*testConfig) // applied to defaults() to give the wanted result
	}{
		{name: "defaults only", edit: func(*testConfig) {}},
		{
			name: "env overrides default",
			env:  map[string]string{"TAMKEEN_GRPC_ADDR": ":1", "TAMKEEN_WORKERS": "7"},
			edit: func(c *testConfig) { c.Addr, c.Workers = ":1", 7 },
		},
		{
			name: "flag overrides env and default",
			env:  map[string]string{"TAMKEEN_GRPC_ADDR": ":1"},
			args: []string{"--grpc-addr", ":2"},
			edit: func(c *testConfig) { c.Addr = ":2" },
		},
		{
			name: "single dash flag",
			args: []string{"-grpc-addr=:3"},
			edit: func(c *testConfig) { c.Addr = ":3" },
		},
		{
			name: "empty env counts as unset",
			env:  map[string]string{"TAMKEEN_WORKERS": ""},
			edit: func(*testConfig) {},
		},
		{
			name: "empty flag forces empty string",
			env:  map[string]string{"TAMKEEN_PASSWORD": "x"},
			args: []string{"--password="},
			edit: func(c *testConfig) { c.Password = "" },
		},
		{
			name: "bool bare flag",
			args: []string{"--debug"},
			edit: func(c *testConfig) { c.Debug = true },
		},
		{
			name: "bool env",
			env:  map[string]string{"TAMKEEN_DEBUG": "true"},
			edit: func(c *testConfig) { c.Debug = true },
		},
		{
			name: "bool flag false beats env true",
			env:  map[string]string{"TAMKEEN_DEBUG": "1"},
			args: []string{"--debug=false"},
			edit: func(c *testConfig) { c.Debug = false },
		},
		{
			name: "int int64 float duration from env",
			env: map[string]string{
				"TAMKEEN_WORKERS":   "-3",
				"TAMKEEN_MAX_BYTES": "9007199254740993",
				"TAMKEEN_RATIO":     "1e-3",
				"TAMKEEN_TOKEN_TTL": "1h30m",
			},
			edit: func(c *testConfig) {
				c.Workers, c.MaxBytes, c.Ratio, c.TTL = -3, 9007199254740993, 0.001, 90*time.Minute
			},
		},
		{
			name: "int int64 float duration from flags",
			args: []string{"--workers=5", "--max-bytes=10", "--ratio=2.5", "--token-ttl=250ms"},
			edit: func(c *testConfig) { c.Workers, c.MaxBytes, c.Ratio, c.TTL = 5, 10, 2.5, 250*time.Millisecond },
		},
		{
			name: "list from env trims and drops empties",
			env:  map[string]string{"TAMKEEN_CORS_ORIGINS": " https://a.ps , ,https://b.ps,"},
			edit: func(c *testConfig) { c.Origins = []string{"https://a.ps", "https://b.ps"} },
		},
		{
			name: "repeated list flag appends and replaces env",
			env:  map[string]string{"TAMKEEN_CORS_ORIGINS": "https://env.ps"},
			args: []string{"--cors-origins=https://a.ps", "--cors-origins", "https://b.ps,https://c.ps"},
			edit: func(c *testConfig) { c.Origins = []string{"https://a.ps", "https://b.ps", "https://c.ps"} },
		},
		{
			name: "text unmarshalers",
			env:  map[string]string{"TAMKEEN_LOG_LEVEL": "debug", "TAMKEEN_BIND": "10.0.0.1"},
			edit: func(c *testConfig) { c.Level, c.IP = slog.LevelDebug, netip.MustParseAddr("10.0.0.1") },
		},
		{
			name: "custom env name is the only env name",
			env:  map[string]string{"TAMKEEN_BIND_IP": "10.0.0.2"},
			edit: func(*testConfig) {},
		},
		{
			name: "nested prefix from env",
			env:  map[string]string{"TAMKEEN_DB_URL": "postgres://db", "TAMKEEN_DB_MAX_CONNS": "9"},
			edit: func(c *testConfig) { c.DB = dbConfig{URL: "postgres://db", MaxConns: 9} },
		},
		{
			name: "nested prefix from flags",
			env:  map[string]string{"TAMKEEN_DB_MAX_CONNS": "9"},
			args: []string{"--db-url=postgres://flag", "--db-max-conns=11"},
			edit: func(c *testConfig) { c.DB = dbConfig{URL: "postgres://flag", MaxConns: 11} },
		},
		{
			name: "secret from env",
			env:  map[string]string{"TAMKEEN_PASSWORD": "hunter2"},
			edit: func(c *testConfig) { c.Password = "hunter2" },
		},
		{
			name: "positional args are left alone",
			args: []string{"--workers=1", "migrate", "up"},
			edit: func(c *testConfig) { c.Workers = 1 },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got testConfig
			if err := Load(&got, newFlagSet(), tt.args, envFunc(tt.env)); err != nil {
				t.Fatalf("Load: %v", err)
			}
			want := defaults()
			tt.edit(&want)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got %+v;\nwant %+v", got, want)
			}
		})
	}
}

func TestLoadKeepsPrefilledValuesWithoutSource(t *testing.T) {
	cfg := testConfig{NotConfig: "kept", Password: "prefilled", Origins: []string{"x"}}
	if err := Load(&cfg, nil, nil, nil); err != nil {
		t.Fatalf("Load: %v", err)
	}
	if cfg.NotConfig != "kept" || cfg.Password != "prefilled" || len(cfg.Origins) != 1 {
		t.Errorf("got %+v; want fields without a source kept", cfg)
	}
	if cfg.Addr != "127.0.0.1:9090" {
		t.Errorf("Addr = %q; want the default", cfg.Addr)
	}
}

func TestLoadBadValues(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want string // the single problem
	}{
		{
			name: "duration from env",
			env:  map[string]string{"TAMKEEN_TOKEN_TTL": "ten"},
			want: `--token-ttl / TAMKEEN_TOKEN_TTL: "ten" is not a duration (e.g. 10m) (from TAMKEEN_TOKEN_TTL)`,
		},
		{
			name: "duration from flag",
			args: []string{"--token-ttl=10"},
			want: `--token-ttl / TAMKEEN_TOKEN_TTL: "10" is not a duration (e.g. 10m) (from --token-ttl)`,
		},
		{
			name: "bool",
			env:  map[string]string{"TAMKEEN_DEBUG": "yes"},
			want: `--debug / TAMKEEN_DEBUG: "yes" is not a boolean (true or false) (from TAMKEEN_DEBUG)`,
		},
		{
			name: "int",
			args: []string{"--workers", "two"},
			want: `--workers / TAMKEEN_WORKERS: "two" is not an integer (from --workers)`,
		},
		{
			name: "int64 out of range",
			env:  map[string]string{"TAMKEEN_MAX_BYTES": "99999999999999999999"},
			want: `--max-bytes / TAMKEEN_MAX_BYTES: "99999999999999999999" is not an integer: out of range (from TAMKEEN_MAX_BYTES)`,
		},
		{
			name: "float",
			env:  map[string]string{"TAMKEEN_RATIO": "half"},
			want: `--ratio / TAMKEEN_RATIO: "half" is not a number (from TAMKEEN_RATIO)`,
		},
		{
			name: "text unmarshaler",
			env:  map[string]string{"TAMKEEN_BIND": "300.1.1.1"},
			want: `--bind-ip / TAMKEEN_BIND: "300.1.1.1" is not valid: ParseAddr("300.1.1.1"): IPv4 field has value >255 (from TAMKEEN_BIND)`,
		},
		{
			name: "nested",
			env:  map[string]string{"TAMKEEN_DB_MAX_CONNS": "many"},
			want: `--db-max-conns / TAMKEEN_DB_MAX_CONNS: "many" is not an integer (from TAMKEEN_DB_MAX_CONNS)`,
		},
		{
			name: "unknown flag",
			args: []string{"--grpc-adr=:1"},
			want: `flag provided but not defined: -grpc-adr`,
		},
		{
			name: "missing flag argument",
			args: []string{"--workers"},
			want: `flag needs an argument: -workers`,
		},
		{
			name: "required flag set to empty",
			args: []string{"--grpc-addr="},
			want: `--grpc-addr / TAMKEEN_GRPC_ADDR: required`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var cfg testConfig
			err := Load(&cfg, newFlagSet(), tt.args, envFunc(tt.env))
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("Load error = %v; want *Error", err)
			}
			if len(ce.Problems) != 1 || ce.Problems[0].String() != tt.want {
				t.Errorf("problems = %q;\nwant [%q]", ce.Problems, tt.want)
			}
		})
	}
}

func TestLoadFlagFixesBadEnv(t *testing.T) {
	var cfg testConfig
	env := envFunc(map[string]string{"TAMKEEN_TOKEN_TTL": "ten"})
	if err := Load(&cfg, newFlagSet(), []string{"--token-ttl=1m"}, env); err != nil {
		t.Fatalf("Load: %v; want the flag to override the bad environment value", err)
	}
	if cfg.TTL != time.Minute {
		t.Errorf("TTL = %v; want 1m", cfg.TTL)
	}
}

type requiredConfig struct {
	Name  string        `flag:"name" required:"true"`
	Count int           `flag:"count" required:"true"`
	TTL   time.Duration `flag:"ttl" required:"true"`
	List  []string      `flag:"list" required:"true"`
	Def   string        `flag:"def" default:"x" required:"true"`
}

func TestLoadRequired(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want []string // flags reported as required
	}{
		{name: "nothing set", want: []string{"name", "count", "ttl", "list"}},
		{
			name: "env and flags satisfy",
			env:  map[string]string{"TAMKEEN_NAME": "n", "TAMKEEN_COUNT": "1"},
			args: []string{"--ttl=1s", "--list=a"},
		},
		{
			name: "explicit zero values do not satisfy",
			env:  map[string]string{"TAMKEEN_COUNT": "0", "TAMKEEN_LIST": ","},
			args: []string{"--name=", "--ttl=0s", "--def="},
			want: []string{"name", "count", "ttl", "list", "def"},
		},
		{
			name: "a bad value is not also reported as missing",
			env:  map[string]string{"TAMKEEN_NAME": "n", "TAMKEEN_TTL": "1s", "TAMKEEN_LIST": "a"},
			args: []string{"--count=x"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var cfg requiredConfig
			err := Load(&cfg, newFlagSet(), tt.args, envFunc(tt.env))
			var got []string
			var ce *Error
			if errors.As(err, &ce) {
				for _, p := range ce.Problems {
					if p.Message == "required" {
						got = append(got, p.Flag)
					}
				}
			} else if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("required problems for %v; want %v (err: %v)", got, tt.want, err)
			}
		})
	}
}

type secretConfig struct {
	Token string        `flag:"token" secret:"true" required:"true"`
	PIN   int           `flag:"pin" secret:"true"`
	TTL   time.Duration `flag:"ttl" secret:"true"`
	Key   netip.Addr    `flag:"key" secret:"true"`
	Plain string        `flag:"plain"`
	Sub   struct {
		Pass string `flag:"pass" secret:"true"`
	} `prefix:"sub-"`
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadSecretFiles(t *testing.T) {
	tests := []struct {
		name      string
		env       func(t *testing.T) map[string]string
		wantToken string
		wantPass  string
		wantErr   string // substring of the single problem; "" for success
	}{
		{
			name: "file with trailing newline",
			env: func(t *testing.T) map[string]string {
				return map[string]string{"TAMKEEN_TOKEN_FILE": writeFile(t, "s3cret\n")}
			},
			wantToken: "s3cret",
		},
		{
			name: "file with CRLF and inner newline kept",
			env: func(t *testing.T) map[string]string {
				return map[string]string{"TAMKEEN_TOKEN_FILE": writeFile(t, "a\nb\r\n")}
			},
			wantToken: "a\nb",
		},
		{
			name: "nested secret file",
			env: func(t *testing.T) map[string]string {
				return map[string]string{"TAMKEEN_TOKEN": "t", "TAMKEEN_SUB_PASS_FILE": writeFile(t, "pw")}
			},
			wantToken: "t",
			wantPass:  "pw",
		},
		{
			name: "both variable and file",
			env: func(t *testing.T) map[string]string {
				return map[string]string{"TAMKEEN_TOKEN": "t", "TAMKEEN_TOKEN_FILE": writeFile(t, "f")}
			},
			wantErr: "--token / TAMKEEN_TOKEN: set TAMKEEN_TOKEN or TAMKEEN_TOKEN_FILE, not both",
		},
		{
			name: "missing file",
			env: func(t *testing.T) map[string]string {
				return map[string]string{"TAMKEEN_TOKEN_FILE": filepath.Join(t.TempDir(), "nope")}
			},
			wantErr: "--token / TAMKEEN_TOKEN: cannot read the file named by TAMKEEN_TOKEN_FILE",
		},
		{
			name: "empty file is missing value",
			env: func(t *testing.T) map[string]string {
				return map[string]string{"TAMKEEN_TOKEN_FILE": writeFile(t, "\n")}
			},
			wantErr: "--token / TAMKEEN_TOKEN: required",
		},
		{
			name: "_FILE only for secrets",
			env: func(t *testing.T) map[string]string {
				return map[string]string{"TAMKEEN_TOKEN": "t", "TAMKEEN_PLAIN_FILE": writeFile(t, "p")}
			},
			wantToken: "t",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var cfg secretConfig
			err := Load(&cfg, newFlagSet(), nil, envFunc(tt.env(t)))
			if tt.wantErr != "" {
				var ce *Error
				if !errors.As(err, &ce) || len(ce.Problems) != 1 || !strings.HasPrefix(ce.Problems[0].String(), tt.wantErr) {
					t.Fatalf("Load error = %v; want one problem starting %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if cfg.Token != tt.wantToken || cfg.Sub.Pass != tt.wantPass || cfg.Plain != "" {
				t.Errorf("got token %q pass %q plain %q; want %q %q \"\"", cfg.Token, cfg.Sub.Pass, cfg.Plain, tt.wantToken, tt.wantPass)
			}
		})
	}
}

func TestLoadNeverEchoesSecrets(t *testing.T) {
	const leak = "Sup3rS3cr3t"
	var cfg secretConfig
	env := envFunc(map[string]string{
		"TAMKEEN_TOKEN": "t",
		"TAMKEEN_PIN":   leak,
		"TAMKEEN_KEY":   leak,
	})
	err := Load(&cfg, newFlagSet(), []string{"--ttl=" + leak}, env)
	var ce *Error
	if !errors.As(err, &ce) || len(ce.Problems) != 3 {
		t.Fatalf("Load error = %v; want 3 problems", err)
	}
	if strings.Contains(err.Error(), leak) {
		t.Errorf("error reveals a secret:\n%v", err)
	}
	want := "--pin / TAMKEEN_PIN: value is not an integer (from TAMKEEN_PIN)"
	if got := ce.Problems[0].String(); got != want {
		t.Errorf("problem = %q; want %q", got, want)
	}
}

type validatedConfig struct {
	Addr     string        `flag:"grpc-addr" required:"true"`
	TTL      time.Duration `flag:"token-ttl" default:"10m"`
	MinTTL   time.Duration `flag:"min-ttl" default:"1m"`
	Mode     string        `flag:"mode" default:"dev"`
	Upstream struct {
		URL string `flag:"url"`
	} `prefix:"upstream-"`
}

func (c validatedConfig) Validate() error {
	var p Problems
	if c.TTL < c.MinTTL {
		p.Addf("token-ttl", "must be at least --min-ttl (%s)", c.MinTTL)
	}
	if c.Mode != "dev" && c.Mode != "prod" {
		p.Add("Mode", `must be "dev" or "prod"`)
	}
	if c.Mode == "prod" && c.Upstream.URL == "" {
		p.Add("upstream-url", "required in prod mode")
	}
	if c.Addr == "" {
		p.Add("grpc-addr", "must not be empty") // duplicate of the required check
	}
	if c.Mode == "prod" && c.TTL > time.Hour {
		p.Add("", "prod mode allows tokens of at most 1h")
	}
	return p.Err()
}

func TestLoadReportsEveryProblemTogether(t *testing.T) {
	var cfg validatedConfig
	env := envFunc(map[string]string{"TAMKEEN_MODE": "prod", "TAMKEEN_TOKEN_TTL": "ten"})
	err := Load(&cfg, newFlagSet(), []string{"--min-ttl=2h", "--mode=test"}, env)
	want := strings.Join([]string{
		"invalid configuration:",
		"  --grpc-addr / TAMKEEN_GRPC_ADDR: required",
		`  --token-ttl / TAMKEEN_TOKEN_TTL: "ten" is not a duration (e.g. 10m) (from TAMKEEN_TOKEN_TTL)`,
		`  --mode / TAMKEEN_MODE: must be "dev" or "prod"`,
	}, "\n")
	if err == nil || err.Error() != want {
		t.Errorf("Load error:\n%v\nwant:\n%s", err, want)
	}

	cfg = validatedConfig{}
	err = Load(&cfg, newFlagSet(), []string{"--grpc-addr=:1", "--token-ttl=2h", "--mode=prod"}, nil)
	want = strings.Join([]string{
		"invalid configuration:",
		"  --upstream-url / TAMKEEN_UPSTREAM_URL: required in prod mode",
		"  prod mode allows tokens of at most 1h",
	}, "\n")
	if err == nil || err.Error() != want {
		t.Errorf("Load error:\n%v\nwant:\n%s", err, want)
	}

	cfg = validatedConfig{}
	if err := Load(&cfg, newFlagSet(), []string{"--grpc-addr=:1"}, nil); err != nil {
		t.Errorf("Load of a valid config: %v", err)
	}
}

type plainErrConfig struct {
	A string `flag:"a"`
}

func (plainErrConfig) Validate() error { return errors.New("whole config is wrong") }

func TestLoadPlainValidateError(t *testing.T) {
	var cfg plainErrConfig
	err := Load(&cfg, nil, nil, nil)
	var ce *Error
	if !errors.As(err, &ce) || len(ce.Problems) != 1 || ce.Problems[0].String() != "whole config is wrong" {
		t.Errorf("Load error = %v; want one problem from Validate", err)
	}
}

func TestRegisterWithOwnFlags(t *testing.T) {
	var cfg testConfig
	fs := newFlagSet()
	if err := Register(fs, &cfg); err != nil {
		t.Fatalf("Register: %v", err)
	}
	seed := fs.Bool("seed", false, "seed demo data")
	if err := Load(&cfg, fs, []string{"--seed", "--workers=3"}, nil); err != nil {
		t.Fatalf("Load: %v", err)
	}
	if !*seed || cfg.Workers != 3 {
		t.Errorf("seed=%v workers=%d; want true 3", *seed, cfg.Workers)
	}
	// Loading again with the same FlagSet starts afresh.
	if err := Load(&cfg, fs, []string{"--workers=x"}, nil); err == nil {
		t.Errorf("second Load with a bad value succeeded")
	}
	if err := Load(&cfg, fs, nil, nil); err != nil {
		t.Errorf("third Load: %v", err)
	}

	var other testConfig
	if err := Load(&other, fs, nil, nil); !errors.Is(err, ErrSpec) {
		t.Errorf("Load of another value on the same FlagSet = %v; want ErrSpec", err)
	}
	if err := Register(fs, &other); !errors.Is(err, ErrSpec) {
		t.Errorf("Register twice = %v; want ErrSpec", err)
	}
	clash := newFlagSet()
	clash.String("debug", "", "")
	if err := Register(clash, &other); !errors.Is(err, ErrSpec) {
		t.Errorf("Register over an existing flag = %v; want ErrSpec", err)
	}
	if clash.Lookup("workers") != nil {
		t.Errorf("failed Register left flags behind")
	}
}

func TestLoadHelp(t *testing.T) {
	var cfg testConfig
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	var out bytes.Buffer
	fs.SetOutput(&out)
	if err := Load(&cfg, fs, []string{"-h"}, nil); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("Load -h = %v; want flag.ErrHelp", err)
	}
	for _, want := range []string{
		"gRPC listen address (env TAMKEEN_GRPC_ADDR) [required] (default 127.0.0.1:9090)",
		"(env TAMKEEN_PASSWORD or TAMKEEN_PASSWORD_FILE)",
		"database URL (env TAMKEEN_DB_URL or TAMKEEN_DB_URL_FILE)",
		"-db-max-conns",
		"(env TAMKEEN_BIND)",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("usage lacks %q:\n%s", want, out.String())
		}
	}
}

func TestSpecErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  any
	}{
		{"nil", nil},
		{"not a pointer", testConfig{}},
		{"pointer to non-struct", new(int)},
		{"nil pointer", (*testConfig)(nil)},
		{"unsupported kind", &struct {
			M map[string]string `flag:"m"`
		}{}},
		{"unsupported int kind", &struct {
			N int32 `flag:"n"`
		}{}},
		{"bad default", &struct {
			D time.Duration `flag:"d" default:"soon"`
		}{}},
		{"bad flag name", &struct {
			S string `flag:"Bad_Name"`
		}{}},
		{"bad prefix", &struct {
			S struct {
				X string `flag:"x"`
			} `prefix:"A_"`
		}{}},
		{"bad bool tag", &struct {
			S string `flag:"s" secret:"yes please"`
		}{}},
		{"duplicate flag", &struct {
			A string `flag:"a"`
			B struct {
				A string `flag:"a"`
			}
		}{}},
		{"duplicate env", &struct {
			A string `flag:"a"`
			B string `flag:"b" env:"A"`
		}{}},
		{"unexported with flag", &struct {
			a string `flag:"a"`
		}{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := Load(tt.cfg, newFlagSet(), nil, nil); !errors.Is(err, ErrSpec) {
				t.Errorf("Load = %v; want ErrSpec", err)
			}
			if err := Register(newFlagSet(), tt.cfg); !errors.Is(err, ErrSpec) {
				t.Errorf("Register = %v; want ErrSpec", err)
			}
		})
	}
}

func TestLoadArgsWithoutFlagSet(t *testing.T) {
	var cfg testConfig
	if err := Load(&cfg, nil, []string{"--workers=1"}, nil); !errors.Is(err, ErrSpec) {
		t.Errorf("Load = %v; want ErrSpec", err)
	}
}

func TestDescribe(t *testing.T) {
	cfg := defaults()
	cfg.Password = "hunter2"
	cfg.DB.URL = "postgres://u:pw@db/x"
	cfg.Origins = []string{"https://a.ps", "https://b.ps"}
	cfg.IP = netip.MustParseAddr("::1")

	want := map[string]string{
		"grpc-addr":    "127.0.0.1:9090",
		"debug":        "false",
		"workers":      "2",
		"max-bytes":    "1048576",
		"ratio":        "0.5",
		"token-ttl":    "10m0s",
		"cors-origins": "https://a.ps,https://b.ps",
		"log-level":    "INFO",
		"bind-ip":      "::1",
		"password":     "[redacted]",
		"db-url":       "[redacted]",
		"db-max-conns": "4",
	}
	for _, in := range []any{cfg, &cfg} {
		got := map[string]string{}
		var keys []string
		for _, a := range Describe(in) {
			got[a.Key] = a.Value.String()
			keys = append(keys, a.Key)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("Describe(%T) = %v;\nwant %v", in, got, want)
		}
		if keys[0] != "grpc-addr" || keys[len(keys)-1] != "db-max-conns" {
			t.Errorf("Describe keys %v; want struct order", keys)
		}
	}

	// An unset secret shows as empty, so operators can see it is missing.
	cfg.Password = ""
	for _, a := range Describe(&cfg) {
		if a.Key == "password" && a.Value.String() != "" {
			t.Errorf("unset secret shown as %q; want empty", a.Value.String())
		}
	}

	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).LogAttrs(t.Context(), slog.LevelInfo, "config", Describe(&cfg)...)
	if strings.Contains(buf.String(), "pw@") {
		t.Errorf("logged config reveals a secret: %s", buf.String())
	}

	if attrs := Describe(42); len(attrs) != 1 || attrs[0].Key != "config_error" {
		t.Errorf("Describe(42) = %v; want a config_error attribute", attrs)
	}
}

func TestProblems(t *testing.T) {
	var p Problems
	if p.Err() != nil || p.Len() != 0 {
		t.Fatalf("empty Problems: Err=%v Len=%d; want nil 0", p.Err(), p.Len())
	}
	p.Add("a", "bad")
	p.Addf("", "%d things", 2)
	err := p.Err()
	want := "invalid configuration:\n  --a: bad\n  2 things"
	if err == nil || err.Error() != want || p.Len() != 2 {
		t.Errorf("Err = %v (Len %d); want %q (Len 2)", err, p.Len(), want)
	}
	if got := (Problem{Env: "TAMKEEN_X", Message: "m"}).String(); got != "TAMKEEN_X: m" {
		t.Errorf("env-only problem = %q; want %q", got, "TAMKEEN_X: m")
	}
}

func TestProblemsRange(t *testing.T) {
	for _, tt := range []struct {
		name string
		v    int
		want string
	}{
		{"below", 0, "--n: 0 is outside 1..5"},
		{"low end", 1, ""},
		{"high end", 5, ""},
		{"above", 6, "--n: 6 is outside 1..5"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var p Problems
			p.Range("n", tt.v, 1, 5)
			got := ""
			if err := p.Err(); err != nil {
				got = err.(*Error).Problems[0].String()
			}
			if got != tt.want {
				t.Errorf("Range(%d) = %q; want %q", tt.v, got, tt.want)
			}
		})
	}
}

func TestProblemsHTTPURL(t *testing.T) {
	for _, tt := range []struct {
		v        string
		required bool
		ok       bool
	}{
		{"https://api.tamkeen.ps", true, true},
		{"http://127.0.0.1:8080/x", false, true},
		{"", false, true},
		{"", true, false},
		{"ftp://files.example", false, false},
		{"/relative", false, false},
		{"https://", false, false},
	} {
		var p Problems
		p.HTTPURL("u", tt.v, tt.required)
		if ok := p.Len() == 0; ok != tt.ok {
			t.Errorf("HTTPURL(%q, required %v) accepted %v; want %v", tt.v, tt.required, ok, tt.ok)
		}
		if p.Len() == 1 && p.list[0].Message != "must be an http(s) URL" {
			t.Errorf("HTTPURL(%q) said %q", tt.v, p.list[0].Message)
		}
	}
}
