// Package openapilint checks the OpenAPI 3.1 document the gateway serves
// with outside tools: Redocly CLI and Spectral (zero errors, zero
// warnings), openapi-typescript with tsc --strict, and the enums against
// the enablers' domain sets. The npm tools are installed here by
// deploy/local/ensure-services.sh (npm ci); make lint runs these tests.
package openapilint

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/tamkeen/tamkeen/gateway"
	"github.com/tamkeen/tamkeen/services/content"
	"github.com/tamkeen/tamkeen/services/notification"
	"github.com/tamkeen/tamkeen/services/payment"
	"github.com/tamkeen/tamkeen/services/payment/money"
)

// issuer is the public URL the linted document names; any will do.
const issuer = "https://api.tamkeen.example.ps"

// document writes the served document to a temporary directory and
// returns its path and bytes.
func document(t *testing.T) (string, []byte) {
	t.Helper()
	doc, _, err := gateway.OpenAPIDocument("v1", issuer)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "openapi.json")
	if err := os.WriteFile(path, doc, 0o644); err != nil {
		t.Fatal(err)
	}
	return path, doc
}

// tool returns the path of an npm tool installed here, failing (not
// skipping) when it is missing unless TAMKEEN_TEST_SKIP_NODE=1.
func tool(t *testing.T, name string) string {
	t.Helper()
	path, err := filepath.Abs(filepath.Join("node_modules", ".bin", name))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		if os.Getenv("TAMKEEN_TEST_SKIP_NODE") == "1" {
			t.Skipf("%s is not installed and TAMKEEN_TEST_SKIP_NODE=1", name)
		}
		t.Fatalf("%s is not installed: run deploy/local/ensure-services.sh (npm ci in tools/internal/openapi-lint): %v", name, err)
	}
	if _, err := exec.LookPath("node"); err != nil {
		t.Fatalf("node is not on the PATH (Debian package nodejs): %v", err)
	}
	return path
}

// run runs a tool and returns its standard output; the exit status is the
// caller's to judge (linters exit 1 on findings).
func run(t *testing.T, dir string, name string, args ...string) ([]byte, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "NO_COLOR=1", "REDOCLY_TELEMETRY=off", "REDOCLY_SUPPRESS_UPDATE_NOTICE=true")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil {
		t.Logf("%s %s: %v\nstderr:\n%s", filepath.Base(name), strings.Join(args, " "), err, stderr.String())
	}
	return stdout.Bytes(), err
}

func TestOpenAPILintRedocly(t *testing.T) {
	t.Parallel()
	redocly := tool(t, "redocly")
	doc, _ := document(t)
	cfg, _ := filepath.Abs("redocly.yaml")
	out, _ := run(t, ".", redocly, "lint", "--config", cfg, "--format=json", doc)
	var report struct {
		Totals struct {
			Errors, Warnings int
		} `json:"totals"`
		Problems []struct {
			RuleID   string `json:"ruleId"`
			Severity string `json:"severity"`
			Message  string `json:"message"`
			Location []struct {
				Pointer string `json:"pointer"`
			} `json:"location"`
		} `json:"problems"`
	}
	if err := json.Unmarshal(out, &report); err != nil {
		t.Fatalf("redocly output is not its JSON report: %v\n%s", err, out)
	}
	for _, p := range report.Problems {
		where := ""
		if len(p.Location) > 0 {
			where = p.Location[0].Pointer
		}
		t.Errorf("redocly %s %s at %s: %s", p.Severity, p.RuleID, where, p.Message)
	}
	if report.Totals.Errors+report.Totals.Warnings != 0 {
		t.Errorf("redocly: %d errors, %d warnings; want none", report.Totals.Errors, report.Totals.Warnings)
	}
}

func TestOpenAPILintSpectral(t *testing.T) {
	t.Parallel()
	spectral := tool(t, "spectral")
	doc, _ := document(t)
	ruleset, _ := filepath.Abs(".spectral.yaml")
	out, _ := run(t, ".", spectral, "lint", "--ruleset", ruleset, "--format", "json", "--quiet", doc)
	var results []struct {
		Code     string   `json:"code"`
		Message  string   `json:"message"`
		Path     []string `json:"path"`
		Severity int      `json:"severity"` // 0 error, 1 warning, 2 info, 3 hint
	}
	if err := json.Unmarshal(out, &results); err != nil {
		t.Fatalf("spectral output is not its JSON report: %v\n%s", err, out)
	}
	for _, r := range results {
		t.Errorf("spectral severity %d %s at %s: %s", r.Severity, r.Code, strings.Join(r.Path, "."), r.Message)
	}
}

// TestOpenAPITypeScript generates TypeScript types from the document with
// openapi-typescript and compiles a client's use of them with tsc --strict:
// the required fields and the enums are types a ministry's code cannot get
// wrong (the @ts-expect-error lines must be errors).
func TestOpenAPITypeScript(t *testing.T) {
	t.Parallel()
	gen := tool(t, "openapi-typescript")
	tsc := tool(t, "tsc")
	doc, _ := document(t)
	dir := t.TempDir()
	if _, err := run(t, dir, gen, doc, "--output", filepath.Join(dir, "tamkeen.d.ts")); err != nil {
		t.Fatalf("openapi-typescript: %v", err)
	}
	use := `import type { components, paths, webhooks } from "./tamkeen";

type CreatePayment = components["schemas"]["CreatePaymentRequest"];
type Payment = components["schemas"]["Payment"];
type Problem = components["schemas"]["Problem"];

export const create: CreatePayment = {
  amount: "12500",
  currency: "ILS",
  reference: "LR-2026-000123",
  description: "رسوم تسجيل قطعة أرض",
  return_url: "https://services.example.gov.ps/land/payments/done",
  splits: [{ account: "dept:land-registry", amount: "12500" }],
};

// @ts-expect-error JOD, ILS and USD only
export const wrongCurrency: CreatePayment = { ...create, currency: "EUR" };

// @ts-expect-error amount is required
export const noAmount: CreatePayment = { currency: "ILS", reference: "x", description: "x", return_url: "https://x" };

export function settled(p: Payment): boolean {
  switch (p.state) {
    case "succeeded":
    case "refunded":
    case "partially_refunded":
      return true;
    // @ts-expect-error not a payment state
    case "paid":
      return true;
    default:
      return false;
  }
}

export function detail(p: Problem): string {
  return p.title + ": " + (p.detail ?? "") + " " + (p.errors ?? []).map((e) => e.field + " " + e.reason).join(", ");
}

type CreateOK = paths["/v1/payments"]["post"]["responses"][201]["content"]["application/json"];
export const id = (r: CreateOK): string | undefined => r.id;

type Callback = webhooks["notificationStatus"]["post"]["requestBody"];
export const status = (c: NonNullable<Callback>["content"]["application/json"]): string => c.status;
`
	if err := os.WriteFile(filepath.Join(dir, "use.ts"), []byte(use), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := run(t, dir, tsc, "--strict", "--noEmit", "--target", "es2022", "--module", "es2022", "--moduleResolution", "bundler", "use.ts")
	if err != nil {
		t.Fatalf("tsc --strict: %v\n%s", err, out)
	}
}

// TestEnumsMatchDomain checks every enum of the document against the set
// the enabler's code accepts: adding a payment state, a currency or a
// language there and not here (gateway/openapi_examples.go) fails.
func TestEnumsMatchDomain(t *testing.T) {
	t.Parallel()
	_, raw := document(t)
	var doc struct {
		Components struct {
			Schemas map[string]struct {
				Properties map[string]struct {
					Enum []string `json:"enum"`
				} `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	strs := func(xs ...string) []string { return xs }
	var states, currencies []string
	for _, s := range payment.States() {
		states = append(states, string(s))
	}
	for _, c := range money.Currencies() {
		currencies = append(currencies, string(c))
	}
	var feeCurrencies []string
	for c := range content.Currencies {
		feeCurrencies = append(feeCurrencies, c)
	}
	var itemStates []string
	for _, s := range content.States {
		itemStates = append(itemStates, string(s))
	}
	var itemTypes, roles []string
	for _, x := range content.Types {
		itemTypes = append(itemTypes, string(x))
	}
	for _, x := range content.Roles {
		roles = append(roles, string(x))
	}
	langs := strs(notification.LangArabic, notification.LangEnglish)
	channels := strs(notification.ChannelSMS, notification.ChannelEmail)
	statuses := strs(notification.StatusCreated, notification.StatusSending, notification.StatusDelivered,
		notification.StatusPermanentFailure, notification.StatusTemporaryFailure, notification.StatusTechnicalFailure,
		notification.StatusCancelled)
	priorities := strs(notification.LaneNormal, notification.LaneBulk)
	// The webhook endpoints' event types, by what they are about, and
	// the final statuses the notification ones carry.
	var paymentEvents, collectionEvents, notificationEvents, finalStatuses []string
	for _, e := range notification.WebhookEventTypes() {
		if st, ok := strings.CutPrefix(e, "notification."); ok {
			notificationEvents, finalStatuses = append(notificationEvents, e), append(finalStatuses, st)
		} else if strings.HasPrefix(e, "collection.") {
			collectionEvents = append(collectionEvents, e)
		} else {
			paymentEvents = append(paymentEvents, e)
		}
	}
	want := map[string][]string{
		"Payment.state":                                states,
		"CreatePaymentRequest.currency":                currencies,
		"Payment.currency":                             currencies,
		"Refund.currency":                              currencies,
		"CurrencyBalance.currency":                     currencies,
		"LedgerAccount.currency":                       currencies,
		"Fee.currency":                                 feeCurrencies,
		"Receipt.language":                             langs,
		"Template.language":                            langs,
		"CreateTemplateRequest.language":               langs,
		"PublicContent.lang":                           content.Languages,
		"Template.channel":                             channels,
		"CreateTemplateRequest.channel":                channels,
		"Notification.channel":                         channels,
		"CreateBulkJobRequest.channel":                 channels,
		"NotificationStatusCallback.notification_type": channels,
		"Notification.status":                          statuses,
		"NotificationStatusCallback.status":            statuses,
		"SendSmsRequest.priority":                      priorities,
		"SendEmailRequest.priority":                    priorities,
		"Item.state":                                   itemStates,
		"CreateItemRequest.type":                       itemTypes,
		"Item.type":                                    itemTypes,
		"PublicContent.type":                           itemTypes,
		"RoleGrant.role":                               roles,
		"GrantRoleBody.role":                           roles,
		"PaymentWebhookEvent.type":                     paymentEvents,
		"PaymentWebhookData.currency":                  currencies,
		"CollectionWebhookEvent.type":                  collectionEvents,
		"CollectionWebhookData.currency":               currencies,
		"CollectionWebhookData.state":                  strs(string(payment.CollectionSettled), string(payment.CollectionFailed)),
		"NotificationWebhookEvent.type":                notificationEvents,
		"NotificationWebhookData.notification_type":    channels,
		"NotificationWebhookData.status":               finalStatuses,
	}
	found := 0
	for schema, s := range doc.Components.Schemas {
		for prop, p := range s.Properties {
			if len(p.Enum) == 0 {
				continue
			}
			found++
			name := schema + "." + prop
			w, ok := want[name]
			if !ok {
				t.Errorf("%s has enum %v that no domain set checks; add it to this test", name, p.Enum)
				continue
			}
			if !sameSet(p.Enum, w) {
				t.Errorf("%s enum = %v; the domain accepts %v", name, p.Enum, w)
			}
		}
	}
	if found != len(want) {
		t.Errorf("%d enums in the document; want %d (one per domain set above)", found, len(want))
	}
}

// TestRedocBundleIsThePinnedOne checks that the Redoc bundle the gateway
// embeds is the one package-lock.json pins.
func TestRedocBundleIsThePinnedOne(t *testing.T) {
	t.Parallel()
	tool(t, "redocly") // the same npm ci installs redoc
	pinned, err := os.ReadFile(filepath.Join("node_modules", "redoc", "bundles", "redoc.standalone.js"))
	if err != nil {
		t.Fatal(err)
	}
	embedded, err := os.ReadFile(filepath.Join("..", "..", "..", "gateway", "templates", "redoc.standalone.js"))
	if err != nil {
		t.Fatal(err)
	}
	if sha256.Sum256(pinned) != sha256.Sum256(embedded) {
		t.Errorf("gateway/templates/redoc.standalone.js is not node_modules/redoc's bundle; copy it (see README.md)")
	}
}

// sameSet reports whether a and b hold the same strings.
func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	sort.Strings(a)
	sort.Strings(b)
	return slices.Equal(a, b)
}
