package provider

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/tamkeen/tamkeen/services/payment/money"
)

// BankProvider is a bank that collects direct debits for the platform. The
// enabler writes each batch of due collections as one ISO 20022 pain.008
// message (WritePain008) and submits it; the bank answers, later, with a
// camt.054 debit/credit notification (ParseCamt054) naming each
// collection's outcome. Implementations must be safe for concurrent use,
// and Submit must be idempotent per message id: the enabler re-submits a
// message it does not know was taken.
type BankProvider interface {
	// Name is the bank's name in ledger accounts ("sandbox-bank").
	Name() string
	// Submit hands the bank the pain.008 message msgID.
	Submit(ctx context.Context, msgID string, pain008 []byte) error
	// Result returns the camt.054 notification of message msgID, or an
	// error wrapping ErrResultNotReady while the bank has none yet.
	Result(ctx context.Context, msgID string) ([]byte, error)
}

// ErrResultNotReady: the bank has not yet processed a submission.
var ErrResultNotReady = errors.New("bank result not ready")

// ISO 20022 external reason codes of failed collections.
const (
	// ReasonInsufficientFunds is AM04.
	ReasonInsufficientFunds = "AM04"
	// ReasonClosedAccount is AC04.
	ReasonClosedAccount = "AC04"
	// ReasonNoMandate is MD01: no valid mandate (revoked or cancelled).
	ReasonNoMandate = "MD01"
)

// DirectDebit is one collection in a pain.008 message.
type DirectDebit struct {
	// EndToEndID is the collection id, echoed in the bank's result.
	EndToEndID string
	MandateID  string
	SignedOn   time.Time
	Amount     int64
	Currency   string
	DueDate    time.Time
	Creditor   string
	DebtorName string
	DebtorIBAN string
	Reference  string
}

// DebitResult is a bank's outcome for one collection.
type DebitResult struct {
	EndToEndID string
	Amount     int64
	Currency   string
	// Settled is true when the account was debited; otherwise ReasonCode
	// (AM04, AC04, MD01, …) says why not.
	Settled    bool
	ReasonCode string
	Booked     time.Time
}

// The pain.008.001.02 (customer direct debit initiation) subset Tamkeen
// writes: a group header and one payment information block per
// collection.
type pain008Doc struct {
	XMLName xml.Name     `xml:"urn:iso:std:iso:20022:tech:xsd:pain.008.001.02 Document"`
	Init    pain008Inner `xml:"CstmrDrctDbtInitn"`
}

type pain008Inner struct {
	MsgID   string       `xml:"GrpHdr>MsgId"`
	Created string       `xml:"GrpHdr>CreDtTm"`
	NbOfTxs int          `xml:"GrpHdr>NbOfTxs"`
	Party   string       `xml:"GrpHdr>InitgPty>Nm"`
	PmtInf  []pain008Pmt `xml:"PmtInf"`
}

type pain008Pmt struct {
	ID         string    `xml:"PmtInfId"`
	Method     string    `xml:"PmtMtd"`
	Collection string    `xml:"ReqdColltnDt"`
	Creditor   string    `xml:"Cdtr>Nm"`
	Tx         pain008Tx `xml:"DrctDbtTxInf"`
}

type pain008Tx struct {
	EndToEndID string   `xml:"PmtId>EndToEndId"`
	Amount     xmlMoney `xml:"InstdAmt"`
	MandateID  string   `xml:"DrctDbtTx>MndtRltdInf>MndtId"`
	SignedOn   string   `xml:"DrctDbtTx>MndtRltdInf>DtOfSgntr"`
	DebtorName string   `xml:"Dbtr>Nm"`
	DebtorIBAN string   `xml:"DbtrAcct>Id>IBAN"`
	Remittance string   `xml:"RmtInf>Ustrd"`
}

type xmlMoney struct {
	Currency string `xml:"Ccy,attr"`
	Value    string `xml:",chardata"`
}

// MaxBankFile bounds a pain.008 or camt.054 message we parse.
const MaxBankFile = 16 << 20

// WritePain008 writes debits as the pain.008 message msgID created at now.
func WritePain008(msgID string, now time.Time, debits []DirectDebit) ([]byte, error) {
	doc := pain008Doc{Init: pain008Inner{MsgID: msgID, Created: now.UTC().Format(time.RFC3339), NbOfTxs: len(debits), Party: "Tamkeen"}}
	for _, d := range debits {
		cur, err := money.ParseCurrency(d.Currency)
		if err != nil {
			return nil, err
		}
		doc.Init.PmtInf = append(doc.Init.PmtInf, pain008Pmt{ID: d.EndToEndID, Method: "DD",
			Collection: d.DueDate.UTC().Format(time.DateOnly), Creditor: d.Creditor, Tx: pain008Tx{
				EndToEndID: d.EndToEndID, Amount: xmlMoney{d.Currency, money.FormatDecimal(d.Amount, cur.Scale())},
				MandateID: d.MandateID, SignedOn: d.SignedOn.UTC().Format(time.DateOnly), DebtorName: d.DebtorName,
				DebtorIBAN: d.DebtorIBAN, Remittance: d.Reference,
			}})
	}
	return marshalDoc(doc)
}

// ParsePain008 reads a pain.008 message: its id and its debits.
func ParsePain008(data []byte) (string, []DirectDebit, error) {
	var doc pain008Doc
	if err := unmarshalDoc(data, &doc); err != nil {
		return "", nil, err
	}
	if doc.Init.MsgID == "" || doc.Init.NbOfTxs != len(doc.Init.PmtInf) {
		return "", nil, fmt.Errorf("%w: pain.008 without a message id or with a wrong NbOfTxs", ErrMalformed)
	}
	var out []DirectDebit
	for i, p := range doc.Init.PmtInf {
		amount, err := parseXMLMoney(p.Tx.Amount)
		if err != nil {
			return "", nil, fmt.Errorf("pain.008 transaction %d: %w", i, err)
		}
		due, err1 := time.Parse(time.DateOnly, p.Collection)
		signed, err2 := time.Parse(time.DateOnly, p.Tx.SignedOn)
		if err := errors.Join(err1, err2); err != nil || p.Tx.EndToEndID == "" {
			return "", nil, fmt.Errorf("%w: pain.008 transaction %d has no id or a bad date", ErrMalformed, i)
		}
		out = append(out, DirectDebit{EndToEndID: p.Tx.EndToEndID, MandateID: p.Tx.MandateID, SignedOn: signed, Amount: amount,
			Currency: p.Tx.Amount.Currency, DueDate: due, Creditor: p.Creditor, DebtorName: p.Tx.DebtorName,
			DebtorIBAN: p.Tx.DebtorIBAN, Reference: p.Tx.Remittance})
	}
	return doc.Init.MsgID, out, nil
}

// The camt.054.001.02 (bank to customer debit/credit notification) subset
// Tamkeen reads: one entry per collection, booked (BOOK); a returned
// collection is a reversal (RvslInd true) whose transaction details carry
// the return reason (RtrInf/Rsn/Cd).
type camt054Doc struct {
	XMLName xml.Name     `xml:"urn:iso:std:iso:20022:tech:xsd:camt.054.001.02 Document"`
	Ntf     camt054Inner `xml:"BkToCstmrDbtCdtNtfctn"`
}

type camt054Inner struct {
	MsgID   string         `xml:"GrpHdr>MsgId"`
	Created string         `xml:"GrpHdr>CreDtTm"`
	Entries []camt054Entry `xml:"Ntfctn>Ntry"`
}

type camt054Entry struct {
	Amount     xmlMoney `xml:"Amt"`
	Indicator  string   `xml:"CdtDbtInd"`
	Reversal   bool     `xml:"RvslInd,omitempty"`
	Status     string   `xml:"Sts"`
	Booked     string   `xml:"BookgDt>Dt"`
	OrgMsgID   string   `xml:"NtryDtls>TxDtls>Refs>MsgId"`
	EndToEndID string   `xml:"NtryDtls>TxDtls>Refs>EndToEndId"`
	Reason     string   `xml:"NtryDtls>TxDtls>RtrInf>Rsn>Cd,omitempty"`
}

// WriteCamt054 writes results as the camt.054 notification msgID about the
// pain.008 message orgMsgID.
func WriteCamt054(msgID, orgMsgID string, now time.Time, results []DebitResult) ([]byte, error) {
	doc := camt054Doc{Ntf: camt054Inner{MsgID: msgID, Created: now.UTC().Format(time.RFC3339)}}
	for _, r := range results {
		cur, err := money.ParseCurrency(r.Currency)
		if err != nil {
			return nil, err
		}
		e := camt054Entry{Amount: xmlMoney{r.Currency, money.FormatDecimal(r.Amount, cur.Scale())}, Indicator: "CRDT", Status: "BOOK",
			Booked: r.Booked.UTC().Format(time.DateOnly), OrgMsgID: orgMsgID, EndToEndID: r.EndToEndID}
		if !r.Settled {
			e.Reversal, e.Indicator, e.Reason = true, "DBIT", r.ReasonCode
		}
		doc.Ntf.Entries = append(doc.Ntf.Entries, e)
	}
	return marshalDoc(doc)
}

// ParseCamt054 reads a bank's camt.054 notification about the pain.008
// message orgMsgID: one result per entry. An entry about another message,
// without an end-to-end id, with an unknown currency or amount, not
// booked, or a reversal without a reason code is refused (ErrMalformed):
// a result is applied exactly as the bank said or not at all.
func ParseCamt054(data []byte, orgMsgID string) ([]DebitResult, error) {
	var doc camt054Doc
	if err := unmarshalDoc(data, &doc); err != nil {
		return nil, err
	}
	out := make([]DebitResult, 0, len(doc.Ntf.Entries))
	for i, e := range doc.Ntf.Entries {
		amount, err := parseXMLMoney(e.Amount)
		if err != nil {
			return nil, fmt.Errorf("camt.054 entry %d: %w", i, err)
		}
		booked, err := time.Parse(time.DateOnly, e.Booked)
		switch {
		case err != nil:
			return nil, fmt.Errorf("%w: camt.054 entry %d has no booking date", ErrMalformed, i)
		case e.OrgMsgID != orgMsgID:
			return nil, fmt.Errorf("%w: camt.054 entry %d is about another message", ErrMalformed, i)
		case e.EndToEndID == "" || len(e.EndToEndID) > 35:
			return nil, fmt.Errorf("%w: camt.054 entry %d has no end-to-end id", ErrMalformed, i)
		case e.Status != "BOOK":
			return nil, fmt.Errorf("%w: camt.054 entry %d is not booked", ErrMalformed, i)
		case e.Reversal != (e.Reason != "") || (e.Reversal && !validReason(e.Reason)):
			return nil, fmt.Errorf("%w: camt.054 entry %d: a return needs a reason code and only a return has one", ErrMalformed, i)
		}
		out = append(out, DebitResult{EndToEndID: e.EndToEndID, Amount: amount, Currency: e.Amount.Currency,
			Settled: !e.Reversal, ReasonCode: e.Reason, Booked: booked})
	}
	return out, nil
}

// validReason accepts an ISO 20022 external reason code: four upper-case
// letters and digits.
func validReason(c string) bool {
	if len(c) != 4 {
		return false
	}
	for i := 0; i < 4; i++ {
		if !isLetter(c[i]) && !isDigit(c[i]) {
			return false
		}
	}
	return true
}

func parseXMLMoney(m xmlMoney) (int64, error) {
	cur, err := money.ParseCurrency(m.Currency)
	if err != nil {
		return 0, fmt.Errorf("%w: currency", ErrMalformed)
	}
	amount, err := money.ParseDecimal(m.Value, cur.Scale())
	if err != nil || amount <= 0 || amount > money.MaxAmount {
		return 0, fmt.Errorf("%w: amount", ErrMalformed)
	}
	return amount, nil
}

func marshalDoc(doc any) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(xml.Header)
	enc := xml.NewEncoder(&b)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return nil, err
	}
	b.WriteByte('\n')
	return b.Bytes(), nil
}

// unmarshalDoc decodes one XML document of at most MaxBankFile bytes;
// encoding/xml resolves no external entities and has no DTD processing.
func unmarshalDoc(data []byte, doc any) error {
	if len(data) > MaxBankFile {
		return fmt.Errorf("%w: file larger than %d bytes", ErrMalformed, MaxBankFile)
	}
	dec := xml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(doc); err != nil {
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%w: %v", ErrMalformed, err)
		}
		if cd, ok := tok.(xml.CharData); !ok || len(bytes.TrimSpace(cd)) > 0 {
			if _, comment := tok.(xml.Comment); !comment {
				return fmt.Errorf("%w: data after the document", ErrMalformed)
			}
		}
	}
}
