package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/tamkeen/tamkeen/gateway"
	"github.com/tamkeen/tamkeen/libs/config"
)

const xroadUsage = `Usage:
  tamkeen xroad map --member INSTANCE/CLASS/MEMBER[/SUBSYSTEM] --client ID
  tamkeen xroad unmap --member INSTANCE/CLASS/MEMBER[/SUBSYSTEM]
  tamkeen xroad list [-o json]
Calls the platform's X-Road / UXP provider security server relays from the
member (or subsystem) run at the gateway's X-Road listener as the Tamkeen
client ID: its scopes, access rights, rate limits, audit and metering. The
member is the X-Road-Client header value (percent-encoded or not). Every
gateway replica applies a change at the next call. Each takes --data-dir DIR
(a tamkeen dev data dir) or --db-dsn URL [--db-engine] of the gateway database.
`

// xroadConfig is the command line of the xroad subcommands.
type xroadConfig struct {
	DB     serviceDB
	Member string `flag:"member" usage:"the X-Road client: INSTANCE/CLASS/MEMBER[/SUBSYSTEM]"`
	Client string `flag:"client" usage:"the Tamkeen client id (OAuth 2.0 client_id) its calls act as"`
	// Out is list's output format.
	Out outputFlag
}

// xroadMappingJSON is one mapping as `tamkeen xroad list -o json` prints it.
type xroadMappingJSON struct {
	XRoadClient string    `json:"xroad_client"`
	ClientID    string    `json:"client_id"`
	MappedAt    time.Time `json:"mapped_at"`
}

// xroadCommand is `tamkeen xroad`.
var xroadCommand = withFlags(subcommands{name: "xroad", known: subcommandWords["xroad"], help: xroadUsage,
	missing: "tamkeen xroad needs map, unmap or list"}, runXRoad)

// runXRoad manages the gateway's X-Road client mappings.
func runXRoad(ctx context.Context, sub string, cfg xroadConfig, _ func(string) (string, bool), stdout, stderr io.Writer) error {
	var p config.Problems
	asJSON, err := cfg.Out.json()
	if err != nil {
		return err
	}
	switch sub {
	case "map", "unmap":
		if cfg.Member == "" {
			p.Add("member", "required")
		} else if _, err := gateway.ParseXRoadClient(cfg.Member); err != nil {
			p.Add("member", err.Error())
		}
		if sub == "map" && cfg.Client == "" {
			p.Add("client", "required")
		}
	case "list":
	default:
		fmt.Fprint(stderr, xroadUsage)
		p.Addf("", "unknown subcommand %q", sub)
	}
	if err := p.Err(); err != nil {
		return err
	}
	db, err := openGatewayDB(ctx, cfg.DB)
	if err != nil {
		return err
	}
	defer db.Close()
	switch sub {
	case "map":
		m, err := gateway.MapXRoadClient(ctx, db, cfg.Member, cfg.Client, time.Now())
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "X-Road client %s now calls as %s (its scopes and access rights)\n", m.XRoadClient, m.ClientID)
	case "unmap":
		ok, err := gateway.UnmapXRoadClient(ctx, db, cfg.Member)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("X-Road client %s is not mapped", cfg.Member)
		}
		fmt.Fprintf(stdout, "X-Road client %s unmapped: its calls are refused\n", cfg.Member)
	case "list":
		list, err := gateway.XRoadMappings(ctx, db)
		if err != nil {
			return err
		}
		if asJSON {
			out := make([]xroadMappingJSON, 0, len(list))
			for _, m := range list {
				out = append(out, xroadMappingJSON{XRoadClient: m.XRoadClient, ClientID: m.ClientID, MappedAt: m.MappedAt.UTC()})
			}
			return writeJSON(stdout, out)
		}
		rows := make([][]string, 0, len(list))
		for _, m := range list {
			rows = append(rows, []string{m.XRoadClient, m.ClientID, m.MappedAt.UTC().Format("2006-01-02 15:04:05Z")})
		}
		if err := writeTable(stdout, []string{"X-ROAD CLIENT", "CLIENT", "MAPPED"}, rows); err != nil {
			return err
		}
		if len(list) == 0 {
			fmt.Fprintln(stdout, "(no mappings: the gateway refuses every X-Road call)")
		}
	}
	return nil
}

// checkXRoadClients validates `tamkeen clients create --xroad-client`
// before the client is created: only with create, only with --data-dir
// (--db-dsn names auth's database, not the gateway's), well-formed.
func checkXRoadClients(sub string, cfg clientsConfig) error {
	if len(cfg.XRoadClients) == 0 {
		return nil
	}
	if sub != "create" {
		return configProblem("xroad-client", "only with create; use tamkeen xroad map for an existing client")
	}
	if cfg.DB.DataDir == "" {
		return configProblem("xroad-client", "only with --data-dir; with --db-dsn use tamkeen xroad map on the gateway database")
	}
	for _, m := range cfg.XRoadClients {
		if _, err := gateway.ParseXRoadClient(m); err != nil {
			return configProblem("xroad-client", err.Error())
		}
	}
	return nil
}

// mapXRoadClients maps the --xroad-client values to the created client in
// the data dir's gateway database.
func mapXRoadClients(ctx context.Context, cfg clientsConfig, stdout io.Writer) error {
	if len(cfg.XRoadClients) == 0 {
		return nil
	}
	db, err := openGatewayDB(ctx, serviceDB{DataDir: cfg.DB.DataDir})
	if err != nil {
		return err
	}
	defer db.Close()
	for _, member := range cfg.XRoadClients {
		m, err := gateway.MapXRoadClient(ctx, db, member, cfg.ID, time.Now())
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "X-Road client %s calls as %s\n", m.XRoadClient, m.ClientID)
	}
	return nil
}
