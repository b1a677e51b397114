package gateway

import "github.com/tamkeen/tamkeen/libs/telemetry"

// Settings is everything the gateway binary (gateway/cmd/gateway) reads
// from its flags and TAMKEEN_… variables: Config and what New's Deps are
// made from. Tests that state a deployment's gateway settings read its
// environment into it, as the binary does.
type Settings struct {
	Gateway      Config
	Auth         string `flag:"auth-addr" default:"127.0.0.1:9091" usage:"auth service gRPC address"`
	Notification string `flag:"notification-addr" default:"127.0.0.1:9092" usage:"notification service gRPC address"`
	Signature    string `flag:"signature-addr" default:"127.0.0.1:9093" usage:"signature service gRPC address"`
	Payment      string `flag:"payment-addr" default:"127.0.0.1:9094" usage:"payment service gRPC address"`
	Content      string `flag:"content-addr" default:"127.0.0.1:9095" usage:"content service gRPC address"`
	NATSURL      string `flag:"nats-url" default:"nats://127.0.0.1:4222" usage:"NATS URL checked by /readyz (empty: not checked)"`
	DBEngine     string `flag:"db-engine" default:"postgres" usage:"postgres or sqlite: the gateway's database (rights, audit log, usage)"`
	DBDSN        string `flag:"db-dsn" secret:"true" usage:"the gateway's database URL or SQLite file; needed by --enforce-rights, --audit and --metering"`
	// LogLevel, OTLPEndpoint and TraceSampleRatio, as every process has.
	telemetry.Config
}
