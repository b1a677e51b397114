package notification

import (
	"errors"
	"testing"
)

func TestParseDeliverSM(t *testing.T) {
	t.Parallel()
	tlv := func(id string, state byte) map[uint16][]byte {
		return map[uint16][]byte{tagReceiptedMessageID: []byte(id + "\x00"), tagMessageState: {state}}
	}
	tests := []struct {
		name    string
		esm     byte
		text    string
		tlvs    map[uint16][]byte
		want    Receipt
		wantErr error
	}{
		{"text only", 0x04, "id:abc123 sub:001 dlvrd:001 submit date:2601011200 done date:2601011201 stat:DELIVRD err:000 text:hello", nil,
			Receipt{MessageID: "abc123", State: ReceiptDelivered, Error: "000"}, nil},
		{"TLVs win over the text", 0x04, "id:other stat:UNDELIV", tlv("m-1", 2), Receipt{MessageID: "m-1", State: ReceiptDelivered}, nil},
		{"lower-case keys", 0x04, "ID:x1 STAT:undeliv", nil, Receipt{MessageID: "x1", State: ReceiptUndeliverable}, nil},
		{"stat inside text: is ignored", 0x04, "id:x2 stat:EXPIRED text:stat:DELIVRD", nil, Receipt{MessageID: "x2", State: ReceiptExpired}, nil},
		{"bad TLV state falls back to text", 0x04, "id:x3 stat:REJECTD", tlv("x3", 99), Receipt{MessageID: "x3", State: ReceiptRejected}, nil},
		{"mobile originated", 0x00, "hello", nil, Receipt{}, ErrNotReceipt},
		{"no id", 0x04, "stat:DELIVRD", nil, Receipt{}, errBadReceipt},
		{"unknown stat", 0x04, "id:x stat:GREAT", nil, Receipt{}, errBadReceipt},
		{"id with a comma", 0x04, "id:a,b stat:DELIVRD", nil, Receipt{}, errBadReceipt},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseDeliverSM(tc.esm, []byte(tc.text), tc.tlvs)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("ParseDeliverSM = %+v, %v; want %v", got, err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("ParseDeliverSM = %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

func TestPartsStatus(t *testing.T) {
	t.Parallel()
	tests := []struct {
		states []string
		want   string
	}{
		{nil, ""},
		{[]string{ReceiptDelivered}, StatusDelivered},
		{[]string{ReceiptDelivered, ""}, ""},
		{[]string{ReceiptDelivered, ReceiptDelivered, ReceiptDelivered}, StatusDelivered},
		{[]string{ReceiptDelivered, ReceiptUndeliverable}, StatusPermanentFailure},
		{[]string{"", ReceiptExpired}, StatusTemporaryFailure},
		{[]string{ReceiptEnroute}, ""},
	}
	for _, tc := range tests {
		if got := partsStatus(tc.states); got != tc.want {
			t.Errorf("partsStatus(%q) = %q; want %q", tc.states, got, tc.want)
		}
	}
}

// FuzzParseDeliverSM: no receipt bytes make the parser panic, and what it
// accepts has a usable id and a known state.
func FuzzParseDeliverSM(f *testing.F) {
	f.Add(byte(0x04), []byte("id:abc sub:001 dlvrd:001 submit date:2601011200 done date:2601011200 stat:DELIVRD err:000 text:"), []byte("abc\x00"), []byte{2})
	f.Add(byte(0x04), []byte("id: stat:"), []byte{}, []byte{})
	f.Add(byte(0x00), []byte("hi"), []byte("x"), []byte{9})
	f.Fuzz(func(t *testing.T, esm byte, text, id, state []byte) {
		r, err := ParseDeliverSM(esm, text, map[uint16][]byte{tagReceiptedMessageID: id, tagMessageState: state})
		if err != nil {
			return
		}
		if !validReceiptID(r.MessageID) || !knownState(r.State) {
			t.Fatalf("accepted %+v", r)
		}
	})
}
