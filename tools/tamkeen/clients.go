package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/tamkeen/tamkeen/libs/config"
	"github.com/tamkeen/tamkeen/libs/host"
	"github.com/tamkeen/tamkeen/libs/scope"
	"github.com/tamkeen/tamkeen/services/auth"
	"github.com/tamkeen/tamkeen/tools/internal/demo"
)

// openAuthAdmin opens the auth database c names, applies its migrations and
// returns the auth service for administration (it runs no background work).
func openAuthAdmin(ctx context.Context, c serviceDB, lookupEnv func(string) (string, bool)) (*auth.Service, func(), error) {
	if c.DataDir != "" {
		kek, err := demo.KeptSecret(filepath.Join(c.DataDir, "key-encryption-key"), 32, base64.StdEncoding)
		if err != nil {
			return nil, nil, err
		}
		lookupEnv = withDefaults(lookupEnv, map[string]string{"TAMKEEN_KEY_ENCRYPTION_KEY": kek})
	}
	var cfg auth.Config
	if err := config.Load(&cfg, nil, nil, lookupEnv); err != nil {
		return nil, nil, err
	}
	sets, err := auth.Migrations()
	if err != nil {
		return nil, nil, err
	}
	db, err := c.open(ctx, auth.Name, sets...)
	if err != nil {
		return nil, nil, err
	}
	svc, err := auth.NewAdmin(cfg, auth.Deps{Kit: auth.Spec().Kit(host.Env{DB: db})})
	if err != nil {
		db.Close()
		return nil, nil, err
	}
	return svc, func() { db.Close() }, nil
}

const clientsUsage = `Usage:
  tamkeen clients create --id ID --name NAME [--ministry M] [--organization ORG] --scopes s1,s2
                         [--redirect-uris U1,U2] [--post-logout-redirect-uris U1] [--max-acr loa1|loa2]
                         [--public [--loopback] | --token-auth-method client_secret_basic|client_secret_post
                                                  | --token-auth-method private_key_jwt --jwks-file F|--jwks-uri U]
                         [--backchannel-logout-uri U] [--id-token-alg ES256|RS256]
                         [--allowed-origin https://app.ministry.ps ...] [--xroad-client INSTANCE/CLASS/MEMBER[/SUBSYSTEM] ...]
                                                                            prints the new secret once (public and private_key_jwt clients have none)
  tamkeen clients update --id ID (--allowed-origin O ... | --no-allowed-origins)
                                                                            replaces the web origins the gateway answers CORS for
  tamkeen clients set-organization --id ID --organization ORG               what its organisation seal names
  tamkeen clients list [-o json]
  tamkeen clients rotate-secret --id ID                                     prints the new secret once
  tamkeen clients disable --id ID
  tamkeen clients grant|revoke|show … [-o json]                             access rights at the gateway
Each takes --data-dir DIR (a tamkeen dev data dir) or --db-dsn URL [--db-engine].
Scopes: ` + "%s\n"

// clientsConfig is the command line of `tamkeen clients`.
type clientsConfig struct {
	DB       serviceDB
	ID       string `flag:"id" usage:"the client id (OAuth 2.0 client_id)"`
	Name     string `flag:"name" usage:"the application's name, shown to operators"`
	Ministry string `flag:"ministry" usage:"the ministry code the application belongs to (e.g. moh): its tokens' ministry claim, the one ministry whose content roles and ledger it manages, and charge-back"`
	// Organization is what the client's organisation seal names (the
	// org_name claim of its tokens): Arabic or Latin words, no bidi
	// controls, zero-width characters or look-alike letters.
	Organization string   `flag:"organization" usage:"the organisation the application acts for, as its organisation seal names it (e.g. \"وزارة الصحة - Ministry of Health\")"`
	Scopes       []string `flag:"scopes" usage:"comma-separated scopes"`
	// The authorization code flow (sign-in of citizens through the
	// hosted pages).
	RedirectURIs           []string `flag:"redirect-uris" usage:"comma-separated redirect URIs of the authorization code flow (exact match; https, or http on 127.0.0.1 or [::1])"`
	PostLogoutRedirectURIs []string `flag:"post-logout-redirect-uris" usage:"comma-separated URIs that RP-initiated logout may return to"`
	Public                 bool     `flag:"public" usage:"a public client (browser or native app): no secret, PKCE required"`
	Loopback               bool     `flag:"loopback" usage:"with --public: its http://127.0.0.1 and http://[::1] redirect URIs match any port (RFC 8252 section 7.3)"`
	TokenAuthMethod        string   `flag:"token-auth-method" usage:"how a confidential client authenticates at the token endpoint: client_secret_basic (default) or client_secret_post"`
	MaxACR                 string   `flag:"max-acr" usage:"the highest acr_values the client may ask for: loa1 (default) or loa2 (SMS step-up)"`
	// private_key_jwt (RFC 7523): the client's public keys.
	JWKSFile             string `flag:"jwks-file" usage:"with --token-auth-method private_key_jwt: a file holding the client's JWK Set (public keys)"`
	JWKSURI              string `flag:"jwks-uri" usage:"with --token-auth-method private_key_jwt: where the client publishes its JWK Set (https)"`
	BackchannelLogoutURI string `flag:"backchannel-logout-uri" usage:"where the client receives logout tokens when a session it got tokens in ends (https, or http on 127.0.0.1 or [::1])"`
	IDTokenAlg           string `flag:"id-token-alg" usage:"the alg of the client's ID tokens: ES256 (default) or RS256"`
	// AllowedOrigins are the web origins of the client's browser pages,
	// for which the gateway answers CORS on the authenticated API.
	AllowedOrigins   []string `flag:"allowed-origin" usage:"a web origin (scheme://host[:port]) the client's browser pages call the API from, for CORS; repeat it for more. https, or http on localhost, 127.0.0.1 or [::1]; no wildcard, no path"`
	NoAllowedOrigins bool     `flag:"no-allowed-origins" usage:"with update: remove every allowed origin"`
	// XRoadClients are X-Road members or subsystems whose calls through
	// the gateway's X-Road listener act as the new client (xroad.go).
	XRoadClients []string `flag:"xroad-client" usage:"with create and --data-dir: an X-Road client (INSTANCE/CLASS/MEMBER[/SUBSYSTEM]) whose calls act as this client; elsewhere use tamkeen xroad map"`
	// outputFlag is list's output format.
	outputFlag
}

// clientJSON is one client as `tamkeen clients list -o json` prints it.
type clientJSON struct {
	ID                     string   `json:"id"`
	Name                   string   `json:"name"`
	Ministry               string   `json:"ministry"`
	Organization           string   `json:"organization"`
	State                  string   `json:"state"`
	Scopes                 []string `json:"scopes"`
	RedirectURIs           []string `json:"redirect_uris,omitempty"`
	PostLogoutRedirectURIs []string `json:"post_logout_redirect_uris,omitempty"`
	Public                 bool     `json:"public"`
	TokenAuthMethod        string   `json:"token_auth_method,omitempty"`
	MaxACR                 string   `json:"max_acr,omitempty"`
	BackchannelLogoutURI   string   `json:"backchannel_logout_uri,omitempty"`
	IDTokenAlg             string   `json:"id_token_alg,omitempty"`
	AllowedOrigins         []string `json:"allowed_origins,omitempty"`
}

// clientsHelp is the usage of `tamkeen clients`, with every scope.
var clientsHelp = fmt.Sprintf(clientsUsage, strings.Join(scope.All(), " "))

// clientsCommand is `tamkeen clients`: a client's access rights at the
// gateway (tamkeen clients grant|revoke|show) are the rights command's.
func clientsCommand(ctx context.Context, args []string, lookupEnv func(string) (string, bool), stdout, stderr io.Writer) error {
	if len(args) > 0 && (args[0] == "grant" || args[0] == "revoke" || args[0] == "show") {
		return rightsCommand(ctx, args, lookupEnv, stdout, stderr)
	}
	return withFlags(subcommands{name: "clients", help: clientsHelp, missing: "tamkeen clients needs a subcommand"}, runClients)(ctx, args, lookupEnv, stdout, stderr)
}

// runClients manages ministry applications (OAuth 2.0 clients).
func runClients(ctx context.Context, sub string, cfg clientsConfig, lookupEnv func(string) (string, bool), stdout, stderr io.Writer) error {
	needID := sub != "list"
	if needID && cfg.ID == "" {
		return configProblem("id", "required")
	}
	if sub == "set-organization" && cfg.Organization == "" {
		return configProblem("organization", "required")
	}
	switch {
	case sub == "update" && len(cfg.AllowedOrigins) == 0 && !cfg.NoAllowedOrigins:
		return configProblem("allowed-origin", "update needs --allowed-origin (repeat it for more) or --no-allowed-origins")
	case sub == "update" && len(cfg.AllowedOrigins) > 0 && cfg.NoAllowedOrigins:
		return configProblem("no-allowed-origins", "give either --allowed-origin or --no-allowed-origins")
	case sub != "update" && cfg.NoAllowedOrigins:
		return configProblem("no-allowed-origins", "only with update")
	case sub != "update" && sub != "create" && len(cfg.AllowedOrigins) > 0:
		return configProblem("allowed-origin", "only with create or update")
	}
	if err := checkXRoadClients(sub, cfg); err != nil {
		return err
	}
	svc, closeDB, err := openAuthAdmin(ctx, cfg.DB, lookupEnv)
	if err != nil {
		return err
	}
	defer closeDB()

	switch sub {
	case "create":
		if cfg.Loopback && !cfg.Public {
			return configProblem("loopback", "only a --public client may be a loopback client")
		}
		keyJWT := cfg.TokenAuthMethod == auth.AuthMethodPrivateKeyJWT
		if (cfg.JWKSFile != "" || cfg.JWKSURI != "") && !keyJWT {
			return configProblem("jwks-file", "only with --token-auth-method private_key_jwt")
		}
		jwks := ""
		if cfg.JWKSFile != "" {
			raw, err := os.ReadFile(cfg.JWKSFile)
			if err != nil {
				return configProblem("jwks-file", err.Error())
			}
			jwks = strings.TrimSpace(string(raw))
		}
		secret := ""
		if !cfg.Public && !keyJWT {
			if secret, err = randomSecret(); err != nil {
				return err
			}
		}
		if err := svc.CreateClient(ctx, auth.ClientSpec{ID: cfg.ID, Name: cfg.Name, Ministry: cfg.Ministry, Organization: cfg.Organization, Secret: secret, Scopes: cfg.Scopes,
			AllowedOrigins: cfg.AllowedOrigins,
			CodeFlow: auth.CodeFlow{
				RedirectURIs: cfg.RedirectURIs, PostLogoutRedirectURIs: cfg.PostLogoutRedirectURIs,
				Public: cfg.Public, Loopback: cfg.Loopback, TokenAuthMethod: cfg.TokenAuthMethod, MaxACR: cfg.MaxACR,
				JWKS: jwks, JWKSURI: cfg.JWKSURI, BackchannelLogoutURI: cfg.BackchannelLogoutURI, IDTokenAlg: cfg.IDTokenAlg,
			}}); err != nil {
			return err
		}
		switch {
		case keyJWT:
			fmt.Fprintf(stdout, "client %s created (private_key_jwt: no secret; it signs assertions with its registered keys)\n", cfg.ID)
		case cfg.Public:
			fmt.Fprintf(stdout, "client %s created (public: no secret; PKCE required)\n", cfg.ID)
		default:
			fmt.Fprintf(stdout, "client %s created\nsecret: %s\n(shown once; only its hash is kept)\n", cfg.ID, secret)
		}
		if err := mapXRoadClients(ctx, cfg, stdout); err != nil {
			return fmt.Errorf("client %s created, but its X-Road clients are not mapped (use tamkeen xroad map): %w", cfg.ID, err)
		}
	case "list":
		cs, err := svc.ListClients(ctx)
		if err != nil {
			return err
		}
		return clientsListing.print(stdout, cfg.asJSON(), cs)
	case "update":
		if err := svc.SetClientAllowedOrigins(ctx, cfg.ID, cfg.AllowedOrigins); err != nil {
			return err
		}
		if len(cfg.AllowedOrigins) == 0 {
			fmt.Fprintf(stdout, "client %s has no allowed web origin: the gateway answers CORS for none of its calls\n", cfg.ID)
			break
		}
		c, err := svc.Client(ctx, cfg.ID)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "client %s may call the API from the web origins %s (the gateway picks them up within its cors-refresh interval)\n",
			cfg.ID, strings.Join(c.AllowedOrigins, " "))
	case "set-organization":
		if err := svc.SetClientOrganization(ctx, cfg.ID, cfg.Organization); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "client %s acts for the organisation %q (its tokens carry it from now on)\n", cfg.ID, cfg.Organization)
	case "rotate-secret":
		secret, err := svc.RotateClientSecret(ctx, cfg.ID)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "client %s has a new secret: %s\n(shown once; the old one no longer works)\n", cfg.ID, secret)
	case "disable":
		if err := svc.DisableClient(ctx, cfg.ID); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "client %s disabled\n", cfg.ID)
	default:
		return usageError(stderr, clientsHelp, fmt.Sprintf("unknown subcommand %q", sub))
	}
	return nil
}

// clientsListing is how `tamkeen clients list` prints clients.
var clientsListing = listing[auth.Client]{
	header: []string{"ID", "NAME", "MINISTRY", "ORGANIZATION", "STATE", "SCOPES"},
	row: func(c auth.Client) []string {
		return []string{c.ID, c.Name, c.Ministry, c.Organization, clientState(c), strings.Join(c.Scopes, " ")}
	},
	json: func(c auth.Client) any {
		return clientJSON{ID: c.ID, Name: c.Name, Ministry: c.Ministry, Organization: c.Organization, State: clientState(c),
			Scopes: c.Scopes, RedirectURIs: c.RedirectURIs, PostLogoutRedirectURIs: c.PostLogoutRedirectURIs, Public: c.Public,
			TokenAuthMethod: c.TokenAuthMethod, MaxACR: c.MaxACR, BackchannelLogoutURI: c.BackchannelLogoutURI, IDTokenAlg: c.IDTokenAlg,
			AllowedOrigins: c.AllowedOrigins}
	},
}

// clientState is active or disabled.
func clientState(c auth.Client) string {
	if c.Disabled {
		return "disabled"
	}
	return "active"
}

// keysConfig is the command line of `tamkeen keys`.
type keysConfig struct {
	DB serviceDB
}

// runKeys manages the auth enabler's token signing keys.
func runKeys(ctx context.Context, _ string, cfg keysConfig, lookupEnv func(string) (string, bool), stdout, stderr io.Writer) error {
	svc, closeDB, err := openAuthAdmin(ctx, cfg.DB, lookupEnv)
	if err != nil {
		return err
	}
	defer closeDB()
	kid, err := svc.RotateSigningKey(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "new signing key %s is active; older keys stay published until the tokens they signed have expired\n", kid)
	return nil
}

// randomSecret is a new client secret: 32 random bytes, URL-safe base64.
func randomSecret() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", errors.New("no randomness for a client secret")
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}
