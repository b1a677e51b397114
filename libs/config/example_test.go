package config_test

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/tamkeen/tamkeen/libs/config"
)

// Config is how a service describes its settings.
type Config struct {
	GRPCAddr string        `flag:"grpc-addr" default:"127.0.0.1:9090" usage:"gRPC listen address" required:"true"`
	TokenTTL time.Duration `flag:"token-ttl" default:"10m" usage:"access token lifetime"`
	DBURL    string        `flag:"db-url" usage:"PostgreSQL URL" secret:"true"`
}

// Validate checks rules that span settings.
func (c Config) Validate() error {
	var p config.Problems
	if c.TokenTTL > time.Hour {
		p.Add("token-ttl", "must be at most 1h")
	}
	return p.Err()
}

func ExampleLoad() {
	env := map[string]string{"TAMKEEN_GRPC_ADDR": "", "TAMKEEN_TOKEN_TTL": "ten"}
	lookupEnv := func(k string) (string, bool) { v, ok := env[k]; return v, ok }

	var cfg Config
	fs := flag.NewFlagSet("payment", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	err := config.Load(&cfg, fs, []string{"--grpc-addr=", "--db-url=postgres://secret"}, lookupEnv)
	var ce *config.Error
	if errors.As(err, &ce) {
		fmt.Println(err)
	}

	cfg = Config{}
	_ = config.Load(&cfg, flag.NewFlagSet("payment", flag.ContinueOnError), []string{"--db-url=postgres://secret"}, nil)
	for _, a := range config.Describe(&cfg) {
		fmt.Printf("%s=%s\n", a.Key, a.Value)
	}
	// Output:
	// invalid configuration:
	//   --grpc-addr / TAMKEEN_GRPC_ADDR: required
	//   --token-ttl / TAMKEEN_TOKEN_TTL: "ten" is not a duration (e.g. 10m) (from TAMKEEN_TOKEN_TTL)
	// grpc-addr=127.0.0.1:9090
	// token-ttl=10m0s
	// db-url=[redacted]
}
