package gateway

import "strings"

// addEndpointWebhooks adds to webhooks the events a ministry's registered
// webhook endpoints receive (POST /v1/webhook-endpoints;
// docs/guides/webhooks.md), one entry per event type, and the schemas of
// their bodies to schemas.
func addEndpointWebhooks(webhooks, schemas map[string]any) {
	str := func(desc string) map[string]any { return map[string]any{"type": "string", "description": desc} }
	ts := map[string]any{"type": "string", "format": "date-time"}
	paymentTypes := []string{"payment.succeeded", "payment.failed", "payment.expired", "payment.refunded", "payment.disputed"}
	collectionTypes := []string{"collection.settled", "collection.failed"}
	notificationTypes := []string{"notification.delivered", "notification.permanent-failure", "notification.temporary-failure", "notification.technical-failure"}
	envelope := func(desc string, types []string, data string) map[string]any {
		return map[string]any{
			"type": "object", "description": desc,
			"required": []string{"id", "type", "created", "data"},
			"properties": map[string]any{
				"id":      str("The event's id, the same in every retry and replay: de-duplicate on it."),
				"type":    map[string]any{"type": "string", "enum": types},
				"created": ts,
				"data":    map[string]any{"$ref": "#/components/schemas/" + data},
			},
		}
	}
	schemas["PaymentWebhookData"] = map[string]any{
		"type": "object", "description": "The payment an event is about.",
		"required": []string{"payment_id", "reference", "time"},
		"properties": map[string]any{
			"payment_id":    str("The payment's id."),
			"reference":     str("The client's own reference, as sent."),
			"amount":        map[string]any{"type": "string", "pattern": "^[0-9]+$", "description": "Minor units."},
			"currency":      map[string]any{"type": "string", "enum": []string{"ILS", "JOD", "USD"}},
			"state":         str("The payment's state after the event (payment.disputed: disputed, won or lost)."),
			"reason":        str("Why it failed or expired."),
			"refund_id":     str("payment.refunded: the refund."),
			"refund_amount": map[string]any{"type": "string", "pattern": "^[0-9]+$", "description": "payment.refunded: minor units."},
			"time":          ts,
		},
	}
	schemas["PaymentWebhookEvent"] = envelope("A payment event of one of the client's payments.", paymentTypes, "PaymentWebhookData")
	schemas["CollectionWebhookData"] = map[string]any{
		"type": "object", "description": "The direct-debit collection an event is about (neither the IBAN nor the citizen's phone number is in it).",
		"required": []string{"collection_id", "mandate_id", "reference", "amount", "currency", "due_date", "state", "time"},
		"properties": map[string]any{
			"collection_id": str("The collection's id."),
			"mandate_id":    str("The mandate it was collected on."),
			"reference":     str("The mandate's reference, as sent."),
			"amount":        map[string]any{"type": "string", "pattern": "^[0-9]+$", "description": "Minor units."},
			"currency":      map[string]any{"type": "string", "enum": []string{"ILS", "JOD", "USD"}},
			"due_date":      map[string]any{"type": "string", "format": "date"},
			"state":         map[string]any{"type": "string", "enum": []string{"settled", "failed"}},
			"reason_code":   str("collection.failed: the bank's ISO 20022 reason (AM04 insufficient funds, AC04 closed account, MD01 no mandate)."),
			"reason":        str("collection.failed: the reason in words."),
			"time":          ts,
		},
	}
	schemas["CollectionWebhookEvent"] = envelope("How a direct-debit collection on one of the client's mandates ended.", collectionTypes, "CollectionWebhookData")
	schemas["NotificationWebhookData"] = map[string]any{
		"type": "object", "description": "The notification an event is about (the recipient is left out).",
		"required": []string{"id", "reference", "notification_type", "status", "created_at", "updated_at"},
		"properties": map[string]any{
			"id":                str("The notification's id."),
			"reference":         str("The client's own reference, as sent."),
			"notification_type": map[string]any{"type": "string", "enum": []string{"sms", "email"}},
			"status":            map[string]any{"type": "string", "enum": []string{"delivered", "permanent-failure", "temporary-failure", "technical-failure"}},
			"failure_reason":    str("Why it failed; only on failure statuses."),
			"segments":          map[string]any{"type": "integer", "minimum": 1, "description": "SMS segments billed; SMS only."},
			"created_at":        ts,
			"updated_at":        ts,
		},
	}
	schemas["NotificationWebhookEvent"] = envelope("A final status of one of the client's notifications.", notificationTypes, "NotificationWebhookData")

	const recipe = "POSTed to each of the client's webhook endpoints that lists this event type. The Tamkeen-Signature " +
		"header is t=<unix seconds>,v1=<hex HMAC-SHA256(endpoint secret, \"<t>.<raw body>\")>, with one v1 per live " +
		"secret (two in the 24 hours after a rotation): accept when any v1 matches, compared in constant time, and t " +
		"is within 5 minutes of now. Answer 2xx within 10 s; anything else is retried after 1 min, 5 min, 1 h, 6 h " +
		"and 1 day, then the delivery is failed (see GET /v1/webhook-endpoints/{endpoint_id}/deliveries)."
	add := func(typ, schema, summary string, data map[string]any) {
		op := strings.NewReplacer(".", "_", "-", "_").Replace(typ)
		webhooks[typ] = map[string]any{"post": map[string]any{
			"operationId": "Webhook_" + op,
			"summary":     summary,
			"tags":        []string{"NotificationService"},
			"description": summary + ": " + recipe,
			"parameters": []any{map[string]any{
				"name": "Tamkeen-Signature", "in": "header", "required": true,
				"schema":      map[string]any{"type": "string", "pattern": "^t=[0-9]+(,v1=[0-9a-f]{64})+$"},
				"example":     "t=1765013400,v1=5257a869e7ecebeda32affa62cdca3fa51cad7e77a0e56ff536d0ce8e108d8bd",
				"description": "Stripe-style signature of the body.",
			}},
			"requestBody": map[string]any{"required": true, "content": map[string]any{"application/json": map[string]any{
				"schema": map[string]any{"$ref": "#/components/schemas/" + schema},
				"example": map[string]any{"id": "evt_01JEQ7A2B3C4D5E6F7G8H9J0KM", "type": typ, "created": "2026-12-06T09:30:04Z",
					"data": data},
			}}},
			"responses": map[string]any{"200": map[string]any{"description": "Received; any 2xx will do."}},
			"security":  []any{},
		}}
	}
	pay := func(extra map[string]any) map[string]any {
		d := map[string]any{"payment_id": "pay_01JEQ7A2B3C4D5E6F7G8H9J0KM", "reference": "LR-2026-000123", "time": "2026-12-06T09:30:04Z"}
		for k, v := range extra {
			d[k] = v
		}
		return d
	}
	add("payment.succeeded", "PaymentWebhookEvent", "A payment was paid",
		pay(map[string]any{"amount": "15050", "currency": "ILS", "state": "succeeded"}))
	add("payment.failed", "PaymentWebhookEvent", "A payment failed",
		pay(map[string]any{"state": "failed", "reason": "card_declined"}))
	add("payment.expired", "PaymentWebhookEvent", "A payment expired unpaid",
		pay(map[string]any{"state": "expired", "reason": "expired unpaid"}))
	add("payment.refunded", "PaymentWebhookEvent", "A payment was refunded",
		pay(map[string]any{"state": "refunded", "refund_id": "ref_01JEQ7A2B3C4D5E6F7G8H9J0KM", "refund_amount": "5000", "currency": "ILS"}))
	add("payment.disputed", "PaymentWebhookEvent", "A payment was disputed, or its dispute decided",
		pay(map[string]any{"amount": "15050", "currency": "ILS", "state": "disputed"}))
	col := func(extra map[string]any) map[string]any {
		d := map[string]any{"collection_id": "col_01JEQ7A2B3C4D5E6F7G8H9J0KM", "mandate_id": "mdt_01JEQ7A2B3C4D5E6F7G8H9J0KM",
			"reference": "WATER-7731", "amount": "12000", "currency": "ILS", "due_date": "2026-12-10", "time": "2026-12-10T00:05:00Z"}
		for k, v := range extra {
			d[k] = v
		}
		return d
	}
	add("collection.settled", "CollectionWebhookEvent", "A direct-debit collection was settled by the bank",
		col(map[string]any{"state": "settled"}))
	add("collection.failed", "CollectionWebhookEvent", "A direct-debit collection was refused by the bank",
		col(map[string]any{"state": "failed", "reason_code": "AM04", "reason": "insufficient funds"}))
	for _, st := range []string{"delivered", "permanent-failure", "temporary-failure", "technical-failure"} {
		d := map[string]any{"id": "ntf_01JEQ7A2B3C4D5E6F7G8H9J0KM", "reference": "LR-2026-000123", "notification_type": "sms",
			"status": st, "segments": 1, "created_at": "2026-12-06T09:30:00Z", "updated_at": "2026-12-06T09:30:04Z"}
		if st != "delivered" {
			d["failure_reason"] = "the recipient's phone did not take it"
		}
		add("notification."+st, "NotificationWebhookEvent", "A notification reached the status "+st, d)
	}
}
