package gateway

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"sort"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/tamkeen/tamkeen/libs/store"
	notificationv1 "github.com/tamkeen/tamkeen/proto/tamkeen/notification/v1"
	paymentv1 "github.com/tamkeen/tamkeen/proto/tamkeen/payment/v1"
	signaturev1 "github.com/tamkeen/tamkeen/proto/tamkeen/signature/v1"
)

// Metered items besides "call:<service>/<operation>" (one per call that
// passed its policy, whatever its outcome).
const (
	ItemSMSSegments = "sms_segments"
	ItemEmails      = "emails"
	ItemSignatures  = "signatures"
	ItemTimestamps  = "timestamps"
	// ItemPayments counts created payments; its amount is their sum per
	// currency.
	ItemPayments = "payments"
	// ItemRefunds counts refunds; its amount is their sum per currency.
	ItemRefunds = "refunds"
)

// usageUnit is one metered quantity of a call.
type usageUnit struct {
	item     string
	currency string
	quantity int64
	amount   int64
}

// meterUnits are the billable units of a successful call, read from the
// request and the reply.
func meterUnits(method string, _, reply proto.Message) []usageUnit {
	switch method {
	case notificationv1.NotificationService_SendSms_FullMethodName:
		n, _ := reply.(*notificationv1.Notification)
		seg := int64(n.GetSegments())
		if seg < 1 {
			seg = 1
		}
		return []usageUnit{{item: ItemSMSSegments, quantity: seg}}
	case notificationv1.NotificationService_SendEmail_FullMethodName:
		return []usageUnit{{item: ItemEmails, quantity: 1}}
	case signaturev1.SignatureService_SignDocument_FullMethodName:
		return []usageUnit{{item: ItemSignatures, quantity: 1}}
	case signaturev1.SignatureService_Timestamp_FullMethodName:
		return []usageUnit{{item: ItemTimestamps, quantity: 1}}
	case paymentv1.PaymentService_CreatePayment_FullMethodName:
		p, _ := reply.(*paymentv1.Payment)
		return []usageUnit{{item: ItemPayments, quantity: 1, amount: p.GetAmount(), currency: p.GetCurrency()}}
	case paymentv1.PaymentService_CreateRefund_FullMethodName:
		rf, _ := reply.(*paymentv1.Refund)
		return []usageUnit{{item: ItemRefunds, quantity: 1, amount: rf.GetAmount(), currency: rf.GetCurrency()}}
	}
	return nil
}

// usageRow is one daily counter's addition: a batch's usage summed by
// day, client, item and currency.
type usageRow struct {
	day, client, item, currency string
	quantity, amount            int64
}

// usageRows sums the batch's usage by counter, in a stable order, which
// keeps concurrent replicas from deadlocking on PostgreSQL row locks.
func usageRows(batch []*entry) []usageRow {
	type key struct{ day, client, item, currency string }
	sum := map[key]*usageRow{}
	var rows []*usageRow
	for _, e := range batch {
		for _, u := range e.usage {
			k := key{e.day, e.client, u.item, u.currency}
			s, ok := sum[k]
			if !ok {
				s = &usageRow{day: e.day, client: e.client, item: u.item, currency: u.currency}
				sum[k] = s
				rows = append(rows, s)
			}
			s.quantity += u.quantity
			s.amount += u.amount
		}
	}
	out := make([]usageRow, len(rows))
	for i, r := range rows {
		out[i] = *r
	}
	slices.SortFunc(out, func(a, b usageRow) int {
		return cmp.Or(cmp.Compare(a.day, b.day), cmp.Compare(a.client, b.client), cmp.Compare(a.item, b.item), cmp.Compare(a.currency, b.currency))
	})
	return out
}

// UsageLine is one client's total of one item in a period.
type UsageLine struct {
	ClientID string
	Item     string
	// Currency and Amount are set for payments and refunds.
	Currency string
	Quantity int64
	Amount   int64
}

// ErrBadPeriod is wrapped when a month or day is not YYYY-MM or
// YYYY-MM-DD.
var ErrBadPeriod = errors.New("gateway: invalid period")

// rePeriod matches a month or a day.
var rePeriod = regexp.MustCompile(`^[0-9]{4}-(0[1-9]|1[0-2])(-(0[1-9]|[12][0-9]|3[01]))?$`)

// Usage totals the metered usage of a month ("2026-11") or a day
// ("2026-11-03"), of one client or of all (clientID ""), ordered by
// client, item and currency.
func Usage(ctx context.Context, db *store.DB, period, clientID string) ([]UsageLine, error) {
	if !rePeriod.MatchString(period) {
		return nil, fmt.Errorf("%w: %q is not YYYY-MM or YYYY-MM-DD", ErrBadPeriod, period)
	}
	rows, err := db.QueryContext(ctx, `SELECT client_id, item, currency, SUM(quantity), SUM(amount) FROM gateway_usage
WHERE (day = $1 OR day LIKE $2) AND ($3 = '' OR client_id = $3)
GROUP BY client_id, item, currency ORDER BY client_id, item, currency`, period, period+"-%", clientID)
	if err != nil {
		return nil, fmt.Errorf("usage: %w", err)
	}
	return store.CollectRows(rows, func(r store.Row) (UsageLine, error) {
		var l UsageLine
		err := r.Scan(&l.ClientID, &l.Item, &l.Currency, &l.Quantity, &l.Amount)
		return l, err
	})
}

// PriceList turns usage into money: the price of one unit of each item
// in minor units of Currency. "call:*" prices every call without its own
// price; payments and refunds may also carry a fee in basis points of
// their amount (only for amounts in Currency).
type PriceList struct {
	Currency string           `json:"currency"`
	Prices   map[string]int64 `json:"prices"`
	// AmountFeeBasisPoints per item, e.g. {"payments": 50} is 0.5 %.
	AmountFeeBasisPoints map[string]int64 `json:"amount_fee_basis_points"`
	// Ministries maps client ids to the ministry that pays; a client not
	// listed is billed on its own.
	Ministries map[string]string `json:"ministries"`
}

// ReadPriceList parses a price list in JSON.
func ReadPriceList(r io.Reader) (PriceList, error) {
	var p PriceList
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return p, fmt.Errorf("price list: %w", err)
	}
	if strings.TrimSpace(p.Currency) == "" {
		return p, errors.New("price list: currency is required")
	}
	for item, v := range p.Prices {
		if v < 0 {
			return p, fmt.Errorf("price list: price of %s is negative", item)
		}
	}
	return p, nil
}

// InvoiceLine is one charge on a ministry's invoice.
type InvoiceLine struct {
	Ministry string
	ClientID string
	Item     string
	Quantity int64
	// UnitPrice and Total are minor units of the price list's currency.
	UnitPrice int64
	Total     int64
}

// Invoice is what one ministry owes for a period.
type Invoice struct {
	Ministry string
	Currency string
	Lines    []InvoiceLine
	Total    int64
}

// Invoices prices the usage per ministry, skipping items without a
// price, ordered by ministry.
func (p PriceList) Invoices(usage []UsageLine) []Invoice {
	by := map[string]*Invoice{}
	for _, u := range usage {
		unit, ok := p.Prices[u.Item]
		if !ok && strings.HasPrefix(u.Item, "call:") {
			unit, ok = p.Prices["call:*"]
		}
		var fee int64
		if bp, has := p.AmountFeeBasisPoints[u.Item]; has && u.Currency == p.Currency {
			fee = u.Amount * bp / 10000
		}
		if !ok && fee == 0 {
			continue
		}
		ministry := p.Ministries[u.ClientID]
		if ministry == "" {
			ministry = u.ClientID
		}
		inv := by[ministry]
		if inv == nil {
			inv = &Invoice{Ministry: ministry, Currency: p.Currency}
			by[ministry] = inv
		}
		line := InvoiceLine{Ministry: ministry, ClientID: u.ClientID, Item: u.Item, Quantity: u.Quantity, UnitPrice: unit,
			Total: unit*u.Quantity + fee}
		inv.Lines = append(inv.Lines, line)
		inv.Total += line.Total
	}
	out := make([]Invoice, 0, len(by))
	for _, inv := range by {
		out = append(out, *inv)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Ministry < out[j].Ministry })
	return out
}
