package payment

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/tamkeen/tamkeen/libs/rpcerr"
	"github.com/tamkeen/tamkeen/libs/store"
	"github.com/tamkeen/tamkeen/libs/textcheck"
	"github.com/tamkeen/tamkeen/services/payment/money"
	"github.com/tamkeen/tamkeen/services/payment/stamppdf"
)

// Stamps held by their buyers (issue 18.2): a ministry registers the fee
// types it sells stamps for; a citizen buys stamps of a registered fee
// type (the department, value and ministry come from the registration,
// never from the citizen); a buyer lists its stamps and prints them.
//
// A stamp's buyer is a client id (a-z, 0-9, '-') or a citizen's subject
// ("cit_…", with an underscore no client id has), so the one buyer column
// names either without confusing them.
//
// Who may print a stamp: its buyer and its issuing ministry (a client of
// the ministry the stamp's postings belong to), nobody else, and not the
// public. The serial is the bearer secret of a paper stamp: whoever holds
// the PDF can present the stamp at a counter, so handing a copy to anyone
// who knows a serial would let a verifier (GetStamp is public) mint
// duplicates of the paper. Everyone else gets "not found", as for a
// serial that does not exist.

// FeeType is a fee type a ministry sells stamps for.
type FeeType struct {
	ID         string
	Ministry   string
	Department string
	Value      int64
	Currency   Currency
	NameAR     string
	NameEN     string
	UpdatedAt  time.Time
}

// buyerID is the stamp buyer id of p: its client id or its citizen
// subject (a Party is one or the other).
func buyerID(p Party) string {
	if p.CitizenID != "" {
		return p.CitizenID
	}
	return p.ClientID
}

// ErrFeeTypeTaken: another ministry registered this fee type id.
var ErrFeeTypeTaken = fmt.Errorf("this fee type is registered by another ministry: %w", rpcerr.ErrAlreadyExists)

// ErrStampNotSealed: the stamp is issued but the signature enabler has not
// sealed it yet (it takes a moment after the payment), so it cannot be
// printed with its QR code yet.
var ErrStampNotSealed = fmt.Errorf("the stamp is not sealed yet; try again in a few seconds: %w", rpcerr.ErrFailedPrecondition)

// maxFeeTypeName bounds a fee type's names (they are printed on A5).
const maxFeeTypeName = 80

// RegisterFeeType registers ft for the client's ministry, or updates the
// ministry's registration of it.
func (s *Service) RegisterFeeType(ctx context.Context, clientID, ministry string, ft FeeType) (FeeType, error) {
	if ministry == "" {
		return FeeType{}, rpcerr.PermissionDenied("client " + clientID + " is registered with no ministry, so it sells no stamps")
	}
	var fes []FieldError
	if !feeTypeRE.MatchString(ft.ID) {
		fes = append(fes, FieldError{Field: "fee_type", Reason: "lower-case letters, digits and hyphens, at most 63", Code: "fee_type.format"})
	}
	if !ValidAccount(ft.Department) {
		fes = append(fes, FieldError{Field: "department", Reason: `must look like "dept:courts" (lower-case letters, digits, hyphens)`, Code: "department.format"})
	}
	cur, err := money.ParseCurrency(string(ft.Currency))
	if err != nil {
		fes = append(fes, FieldError{Field: "currency", Reason: err.Error(), Code: "currency.unsupported"})
	}
	if ft.Value <= 0 || ft.Value > MaxAmount {
		fes = append(fes, FieldError{Field: "value", Reason: fmt.Sprintf("must be 1..%d minor units", MaxAmount), Code: "value.range", Args: rpcerr.ArgList(strconv.FormatInt(MaxAmount, 10))})
	}
	for _, n := range []struct{ field, v string }{{"name_ar", ft.NameAR}, {"name_en", ft.NameEN}} {
		switch {
		case strings.TrimSpace(n.v) == "":
			fes = append(fes, FieldError{Field: n.field, Reason: "required", Code: rpcerr.FieldCode(n.field, "required")})
		case len([]rune(n.v)) > maxFeeTypeName:
			fes = append(fes, FieldError{Field: n.field, Reason: fmt.Sprintf("at most %d characters", maxFeeTypeName),
				Code: rpcerr.FieldCode(n.field, "too_long"), Args: rpcerr.ArgList(strconv.Itoa(maxFeeTypeName))})
		default:
			if fe := textcheck.Check(n.field, n.v, textcheck.Address); fe != nil {
				fes = append(fes, *fe)
			}
		}
	}
	if err := fieldErrors(fes); err != nil {
		return FeeType{}, err
	}
	ft.Currency, ft.Ministry, ft.UpdatedAt = cur, ministry, s.clock()
	ft.NameAR, ft.NameEN = strings.TrimSpace(ft.NameAR), strings.TrimSpace(ft.NameEN)
	ok, err := upsertFeeType(ctx, s.DB, ft, clientID)
	if err != nil {
		return FeeType{}, err
	}
	if !ok {
		return FeeType{}, fmt.Errorf("fee type %s: %w", ft.ID, ErrFeeTypeTaken)
	}
	return ft, nil
}

// ListFeeTypes returns every registered fee type.
func (s *Service) ListFeeTypes(ctx context.Context) ([]FeeType, error) {
	return listFeeTypes(ctx, s.DB)
}

// applyFeeType completes a stamp order from its fee type's registration:
// a citizen's order takes the department, value, currency and ministry
// from it and may name none of them; a client's order of a fee type its
// ministry registered takes what it leaves out, and a client may not buy
// a fee type another ministry registered. It returns the field errors
// found so far.
func (s *Service) applyFeeType(ctx context.Context, in StampInput) (StampInput, []FieldError, error) {
	var fes []FieldError
	if !feeTypeRE.MatchString(in.FeeType) {
		return in, append(fes, FieldError{Field: "fee_type", Reason: "lower-case letters, digits and hyphens, at most 63", Code: "fee_type.format"}), nil
	}
	ft, ok, err := getFeeType(ctx, s.DB, in.FeeType)
	if err != nil {
		return in, nil, err
	}
	if in.Citizen {
		const fromFeeType = "is set by the fee type's registration; leave it out"
		if in.Value != 0 {
			fes = append(fes, FieldError{Field: "value", Reason: fromFeeType, Code: "value.from_fee_type"})
		}
		if in.Currency != "" {
			fes = append(fes, FieldError{Field: "currency", Reason: fromFeeType, Code: "currency.from_fee_type"})
		}
		if in.Department != "" {
			fes = append(fes, FieldError{Field: "department", Reason: fromFeeType, Code: "department.from_fee_type"})
		}
		if !ok {
			fes = append(fes, FieldError{Field: "fee_type", Reason: "no ministry sells stamps of this fee type (GET /v1/stamp-fee-types lists them)", Code: "fee_type.unknown"})
		}
		if len(fes) > 0 {
			return in, fes, nil
		}
		in.Value, in.Currency, in.Department, in.Ministry = ft.Value, string(ft.Currency), ft.Department, ft.Ministry
		return in, nil, nil
	}
	if !ok {
		return in, nil, nil
	}
	if ft.Ministry != in.Ministry {
		return in, append(fes, FieldError{Field: "fee_type", Reason: "is registered by another ministry", Code: "fee_type.other_ministry"}), nil
	}
	if in.Value == 0 && in.Currency == "" && in.Department == "" {
		in.Value, in.Currency, in.Department = ft.Value, string(ft.Currency), ft.Department
	}
	return in, nil, nil
}

// ListStamps lists p's stamps (those it bought), newest first, one page
// at a time.
func (s *Service) ListStamps(ctx context.Context, p Party, pageSize int, pageToken string) ([]Stamp, string, error) {
	var fes []FieldError
	if pageSize < 0 || pageSize > MaxStampQuantity {
		fes = append(fes, FieldError{Field: "page_size", Reason: fmt.Sprintf("must be 0..%d", MaxStampQuantity), Code: "page_size.range", Args: rpcerr.ArgList(strconv.Itoa(MaxStampQuantity))})
	}
	var afterT time.Time
	var afterSerial string
	if pageToken != "" {
		var ok bool
		if afterT, afterSerial, ok = store.ParseKeysetToken(pageToken); !ok {
			fes = append(fes, FieldError{Field: "page_token", Reason: "not a token this API gave", Code: "page_token.unknown"})
		}
	}
	if err := fieldErrors(fes); err != nil {
		return nil, "", err
	}
	if pageSize == 0 {
		pageSize = DefaultPageSize
	}
	out, err := listStamps(ctx, s.DB, buyerID(p), afterT, afterSerial, pageSize)
	if err != nil {
		return nil, "", err
	}
	out, next := store.NextPage(out, pageSize, func(st Stamp) string { return store.KeysetToken(st.CreatedAt, st.Serial) })
	return out, next, nil
}

// mayHold reports whether p may see st's holder's view: p bought it, or p
// is a client of its issuing ministry.
func mayHold(p Party, st Stamp) bool {
	if id := buyerID(p); id != "" && id == st.Buyer {
		return true
	}
	return p.CitizenID == "" && p.Ministry != "" && p.Ministry == st.Ministry
}

// PrintStamp returns the printable stamp with serial for p, its buyer or
// its issuing ministry; for anyone else it does not exist.
func (s *Service) PrintStamp(ctx context.Context, p Party, serial string) ([]byte, error) {
	serial, err := normalSerial(serial)
	if err != nil {
		return nil, err
	}
	st, err := s.getStamp(ctx, s.DB, serial, false)
	if err != nil {
		return nil, err
	}
	if st.IssuedAt.IsZero() || !mayHold(p, st) {
		return nil, fmt.Errorf("%w: %s", ErrStampNotFound, serial)
	}
	if st.SignedStamp == "" {
		return nil, fmt.Errorf("stamp %s: %w", serial, ErrStampNotSealed)
	}
	doc := stamppdf.Stamp{
		Serial: st.Serial, Amount: st.Currency.Format(st.Value), Currency: string(st.Currency), FeeType: st.FeeType,
		Department: st.Department, Buyer: st.Buyer, Issuer: sealIssuer(st.SignedStamp),
		IssuedAt: st.IssuedAt, ExpireAt: st.ExpireAt, Sealed: st.SignedStamp,
	}
	if ft, ok, err := getFeeType(ctx, s.DB, st.FeeType); err != nil {
		return nil, err
	} else if ok && ft.Ministry == st.Ministry {
		doc.FeeNameAR, doc.FeeNameEN = ft.NameAR, ft.NameEN
	}
	out, err := stamppdf.Render(doc)
	if errors.Is(err, stamppdf.ErrNotSealed) {
		return nil, fmt.Errorf("stamp %s: %w", serial, ErrStampNotSealed)
	}
	return out, err
}

// sealIssuer is the organisation the seal names (the payload's iss), for
// the printed stamp's heading; "" when it cannot be read. The seal is the
// signature enabler's, stored as received; this only reads it for display.
func sealIssuer(jws string) string {
	parts := strings.Split(jws, ".")
	if len(parts) != 3 {
		return ""
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return ""
	}
	var claims struct {
		Issuer string `json:"iss"`
	}
	if json.Unmarshal(payload, &claims) != nil {
		return ""
	}
	return claims.Issuer
}
