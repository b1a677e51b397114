package notification

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
)

// Receipt states, as the SMPP 3.4 delivery receipt text names them
// (appendix B); message_state TLV values map onto the same names.
const (
	ReceiptDelivered     = "DELIVRD"
	ReceiptExpired       = "EXPIRED"
	ReceiptDeleted       = "DELETED"
	ReceiptUndeliverable = "UNDELIV"
	ReceiptAccepted      = "ACCEPTD"
	ReceiptUnknown       = "UNKNOWN"
	ReceiptRejected      = "REJECTD"
	ReceiptEnroute       = "ENROUTE"
)

// Receipt is a provider's delivery report for one message or part.
type Receipt struct {
	// MessageID is the provider's id, as submit_sm_resp returned it.
	MessageID string
	// State is one of the Receipt… constants.
	State string
	// Error is the network error code, when the receipt gives one.
	Error string
}

// ErrNotReceipt is returned for a deliver_sm that is not a delivery
// receipt (a mobile-originated message).
var ErrNotReceipt = errors.New("notification: not a delivery receipt")

// errBadReceipt is wrapped by every parse failure.
var errBadReceipt = errors.New("notification: malformed delivery receipt")

// messageStateNames maps the SMPP message_state TLV (0x0427) to states.
var messageStateNames = [...]string{1: ReceiptEnroute, 2: ReceiptDelivered, 3: ReceiptExpired, 4: ReceiptDeleted,
	5: ReceiptUndeliverable, 6: ReceiptAccepted, 7: ReceiptUnknown, 8: ReceiptRejected}

// knownState reports whether s is one of the Receipt… constants.
func knownState(s string) bool {
	for _, k := range messageStateNames {
		if k != "" && k == s {
			return true
		}
	}
	return false
}

// SMPP TLV tags a receipt carries.
const (
	tagReceiptedMessageID = 0x001E
	tagMessageState       = 0x0427
	tagNetworkErrorCode   = 0x0423
)

// ParseDeliverSM reads a delivery receipt from a deliver_sm's esm_class,
// short_message and TLVs (by tag). The TLVs receipted_message_id and
// message_state are preferred (they are standard); the text form
// "id:… stat:DELIVRD …" is the fallback many SMSCs still send alone.
func ParseDeliverSM(esmClass byte, shortMessage []byte, tlvs map[uint16][]byte) (Receipt, error) {
	if esmClass&0x3C != 0x04 {
		return Receipt{}, ErrNotReceipt
	}
	id, okID := tlvs[tagReceiptedMessageID]
	st, okSt := tlvs[tagMessageState]
	if okID && okSt && len(st) == 1 && int(st[0]) < len(messageStateNames) && messageStateNames[st[0]] != "" {
		r := Receipt{MessageID: string(bytes.TrimRight(id, "\x00")), State: messageStateNames[st[0]]}
		if ne, ok := tlvs[tagNetworkErrorCode]; ok && len(ne) == 3 {
			r.Error = fmt.Sprintf("%d:%d", ne[0], int(ne[1])<<8|int(ne[2]))
		}
		if r.MessageID != "" && validReceiptID(r.MessageID) {
			return r, nil
		}
	}
	return ParseReceiptText(string(shortMessage))
}

// ParseReceiptText parses the SMPP 3.4 appendix B receipt text:
// "id:IIIIIIIIII sub:SSS dlvrd:DDD submit date:YYMMDDhhmm done
// date:YYMMDDhhmm stat:DDDDDDD err:E text:…". Keys are case-insensitive
// and only id and stat are required.
func ParseReceiptText(text string) (Receipt, error) {
	if len(text) > 1024 {
		return Receipt{}, fmt.Errorf("%w: longer than 1024 bytes", errBadReceipt)
	}
	// Everything after text: is the message's start, which may hold
	// anything, "stat:" included.
	if i := strings.Index(strings.ToLower(text), "text:"); i >= 0 {
		text = text[:i]
	}
	var r Receipt
	for _, f := range strings.Fields(text) {
		k, v, ok := strings.Cut(f, ":")
		if !ok {
			continue
		}
		switch strings.ToLower(k) {
		case "id":
			r.MessageID = v
		case "stat":
			r.State = strings.ToUpper(v)
		case "err":
			r.Error = v
		}
	}
	switch {
	case r.MessageID == "" || !validReceiptID(r.MessageID):
		return Receipt{}, fmt.Errorf("%w: no valid id", errBadReceipt)
	case !knownState(r.State):
		return Receipt{}, fmt.Errorf("%w: unknown stat", errBadReceipt)
	}
	return r, nil
}

// validReceiptID accepts the ids SMSCs give (at most 64 printable ASCII
// characters, no comma: commas separate a multipart message's ids).
func validReceiptID(id string) bool {
	if len(id) == 0 || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] <= ' ' || id[i] > '~' || id[i] == ',' {
			return false
		}
	}
	return true
}

// receiptStatus is the notification status a receipt state leads to, or
// "" when the message is still on its way.
func receiptStatus(state string) string {
	switch state {
	case ReceiptDelivered:
		return StatusDelivered
	case ReceiptUndeliverable, ReceiptRejected:
		return StatusPermanentFailure
	case ReceiptExpired, ReceiptDeleted:
		return StatusTemporaryFailure
	}
	return ""
}

// recordParts remembers the provider's id of each part of n (commas
// separate them), so that receipts find the notification.
func recordParts(ctx context.Context, tx *sql.Tx, n Notification) error {
	if n.Channel != ChannelSMS || n.ProviderMessageID == "" {
		return nil
	}
	for i, id := range strings.Split(n.ProviderMessageID, ",") {
		if err := insertSMSPart(ctx, tx, n, id, i+1); err != nil {
			return fmt.Errorf("record part %d of %s: %w", i+1, n.ID, err)
		}
	}
	return nil
}

// applyReceipt stores a receipt from provider and settles the notification
// it belongs to, in one commit. A receipt can arrive before the send's
// outcome is recorded (the SMSC answers submit_sm and reports delivery at
// once); it waits in sms_receipts, and deliver settles it after recording
// the ids.
func (s *Service) applyReceipt(ctx context.Context, provider string, r Receipt) error {
	early := false
	err := s.settle(ctx, func(tx *sql.Tx) (string, error) {
		if err := upsertReceipt(ctx, tx, provider, r, s.nowUTC()); err != nil {
			return "", fmt.Errorf("store receipt: %w", err)
		}
		nid, err := partNotification(ctx, tx, provider, r.MessageID)
		if errors.Is(err, sql.ErrNoRows) {
			early = true
			return "", nil
		}
		if err != nil {
			return "", fmt.Errorf("receipt: %w", err)
		}
		return nid, nil
	})
	if err != nil || !early {
		return err
	}
	// The ids may have been recorded after this transaction looked and
	// before it committed, so that deliver did not see the receipt either:
	// look again now that it is committed.
	nid, err := partNotification(ctx, s.DB, provider, r.MessageID)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("notification: receipt: %w", err)
	}
	return s.settleReceipts(ctx, nid)
}

// settleReceipts moves notification id to the status its parts' receipts
// give: delivered when every part is, a failure as soon as one part fails.
func (s *Service) settleReceipts(ctx context.Context, id string) error {
	// Most sends have no receipt when their ids are recorded: a read, not
	// a commit.
	states, err := partStates(ctx, s.DB, id)
	if err != nil {
		return fmt.Errorf("notification: settle receipts: %w", err)
	}
	if partsStatus(states) == "" {
		return nil
	}
	return s.settle(ctx, func(*sql.Tx) (string, error) { return id, nil })
}

// settle runs find (which names the notification to settle, or "") and
// settles that notification by its receipts in the same transaction,
// again when another handler moved the row meanwhile.
func (s *Service) settle(ctx context.Context, find func(tx *sql.Tx) (string, error)) error {
	for range 5 {
		var from, next Notification
		err := s.DB.InTx(ctx, func(tx *sql.Tx) error {
			from, next = Notification{}, Notification{}
			id, err := find(tx)
			if err != nil || id == "" {
				return err
			}
			if n, err := getNotification(ctx, tx, "id", id); err != nil || n.final() || n.submission != submissionAccepted {
				// Nothing to settle (a late duplicate, or not sent yet):
				// no write.
				return err
			}
			// Settlements of one notification take turns, so that of two
			// parts' receipts written at once the later one sees both: lock
			// the row, then read it and its receipts.
			if err := lockNotification(ctx, tx, id); err != nil {
				return err
			}
			n, status, err := s.receiptStatus(ctx, tx, id)
			if err != nil || status == "" {
				return err
			}
			from, next = n, n
			next.Status, next.UpdatedAt = status, s.nowUTC()
			next.CompletedAt = next.UpdatedAt
			return s.writeTransition(ctx, tx, from, next)
		})
		if errors.Is(err, errConcurrentChange) {
			continue
		}
		if err != nil {
			return fmt.Errorf("notification: settle receipts: %w", err)
		}
		if next.ID != "" {
			s.transitioned(from, next)
		}
		return nil
	}
	return errConcurrentChange
}

// receiptStatus reads notification id and the status its receipts give
// it, "" when they give none or it is settled or not sent.
func (s *Service) receiptStatus(ctx context.Context, tx *sql.Tx, id string) (Notification, string, error) {
	n, err := getNotification(ctx, tx, "id", id)
	if err != nil || n.final() || n.submission != submissionAccepted {
		return n, "", err
	}
	states, err := partStates(ctx, tx, id)
	if err != nil {
		return n, "", err
	}
	return n, partsStatus(states), nil
}

// partsStatus combines the parts' receipt states ("" for none yet).
func partsStatus(states []string) string {
	if len(states) == 0 {
		return ""
	}
	delivered := 0
	for _, st := range states {
		switch status := receiptStatus(st); status {
		case StatusDelivered:
			delivered++
		case "":
		default:
			return status
		}
	}
	if delivered == len(states) {
		return StatusDelivered
	}
	return ""
}
