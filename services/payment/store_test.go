package payment

import (
	"fmt"
	"strings"
	"testing"
)

// TestMigrationsKeepRecordedVersions pins the components, versions and
// names that databases migrated before the schema moved from Go strings to
// migrations/*.sql recorded in schema_migrations: they must match, or such
// a database would be migrated again (or refused as too new).
func TestMigrationsKeepRecordedVersions(t *testing.T) {
	t.Parallel()
	sets, err := Migrations()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range sets {
		for _, m := range s.Migrations {
			got = append(got, fmt.Sprintf("%s/%d_%s", s.Component, m.Version, m.Name))
		}
	}
	want := []string{"payment/1_payments_ledger", "payment/2_receipts", "payment/3_ministry", "payment/4_stamps", "payment/5_mandates",
		"payment/6_mandate_lists", "payment/7_stamp_fee_types", "payment-sandbox/1_sandbox_acquirer"}
	if g := strings.Join(got, " "); !strings.HasPrefix(g, strings.Join(want, " ")+" ") {
		t.Fatalf("migrations = %s; want them to start with %s", g, strings.Join(want, " "))
	}
}
