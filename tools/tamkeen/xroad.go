package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/tamkeen/tamkeen/gateway"
	"github.com/tamkeen/tamkeen/libs/config"
	"github.com/tamkeen/tamkeen/libs/store"
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
	// gatewayFlags: the gateway's database, and list's output format.
	gatewayFlags
	Member string `flag:"member" usage:"the X-Road client: INSTANCE/CLASS/MEMBER[/SUBSYSTEM]"`
	Client string `flag:"client" usage:"the Tamkeen client id (OAuth 2.0 client_id) its calls act as"`
}

// xroadMappingJSON is one mapping as `tamkeen xroad list -o json` prints it.
type xroadMappingJSON struct {
	XRoadClient string    `json:"xroad_client"`
	ClientID    string    `json:"client_id"`
	MappedAt    time.Time `json:"mapped_at"`
}

// xroadCommand is `tamkeen xroad`.
var xroadCommand = withFlags(knownSubcommands("xroad", xroadUsage, "tamkeen xroad needs map, unmap or list"), xroadAdmin.run)

// xroadAdmin manages the gateway's X-Road client mappings.
var xroadAdmin = gatewayAdmin[xroadConfig]{
	help: xroadUsage,
	ops: map[string]gatewayOp[xroadConfig]{
		"map":   {check: checkXRoadMap, run: mapXRoadClient},
		"unmap": {check: checkXRoadMember, run: unmapXRoadClient},
		"list":  {run: listXRoadClients},
	},
}

// checkXRoadMember checks --member, which map and unmap need.
func checkXRoadMember(cfg xroadConfig, p *config.Problems) {
	if cfg.Member == "" {
		p.Add("member", "required")
	} else if _, err := gateway.ParseXRoadClient(cfg.Member); err != nil {
		p.Add("member", err.Error())
	}
}

// checkXRoadMap checks the flags of map.
func checkXRoadMap(cfg xroadConfig, p *config.Problems) {
	checkXRoadMember(cfg, p)
	if cfg.Client == "" {
		p.Add("client", "required")
	}
}

func mapXRoadClient(ctx context.Context, db *store.DB, cfg xroadConfig, stdout io.Writer) error {
	m, err := gateway.MapXRoadClient(ctx, db, cfg.Member, cfg.Client, time.Now())
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "X-Road client %s now calls as %s (its scopes and access rights)\n", m.XRoadClient, m.ClientID)
	return nil
}

func unmapXRoadClient(ctx context.Context, db *store.DB, cfg xroadConfig, stdout io.Writer) error {
	ok, err := gateway.UnmapXRoadClient(ctx, db, cfg.Member)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("X-Road client %s is not mapped", cfg.Member)
	}
	fmt.Fprintf(stdout, "X-Road client %s unmapped: its calls are refused\n", cfg.Member)
	return nil
}

func listXRoadClients(ctx context.Context, db *store.DB, cfg xroadConfig, stdout io.Writer) error {
	list, err := gateway.XRoadMappings(ctx, db)
	if err != nil {
		return err
	}
	return xroadListing.print(stdout, cfg.asJSON(), list)
}

// xroadListing is how `tamkeen xroad list` prints the mappings.
var xroadListing = listing[gateway.XRoadMapping]{
	header: []string{"X-ROAD CLIENT", "CLIENT", "MAPPED"},
	row: func(m gateway.XRoadMapping) []string {
		return []string{m.XRoadClient, m.ClientID, m.MappedAt.UTC().Format("2006-01-02 15:04:05Z")}
	},
	json: func(m gateway.XRoadMapping) any {
		return xroadMappingJSON{XRoadClient: m.XRoadClient, ClientID: m.ClientID, MappedAt: m.MappedAt.UTC()}
	},
	empty: "(no mappings: the gateway refuses every X-Road call)",
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
