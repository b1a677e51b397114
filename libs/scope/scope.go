// Package scope names the OAuth scopes the auth service grants to ministry
// clients. They are declared here once: the auth service grants them, the
// gateway's route policy asks for them, and each enabler checks them again
// (defence in depth). The string values are part of the public API (tokens,
// client registrations, docs/api-policy.md) and never change.
package scope

import "slices"

// Scopes a ministry client can be granted. Each names what a client may
// call; the gateway enforces them per route.
const (
	// CitizensRead reads citizens' accounts (auth).
	CitizensRead = "citizens:read"
	// CitizensProof records in-person identity checks (auth).
	CitizensProof = "citizens:proof"
	// NotificationsSend sends SMS and e-mail (notification).
	NotificationsSend = "notifications:send"
	// NotificationsRead reads the client's notifications (notification).
	NotificationsRead = "notifications:read"
	// TemplatesWrite manages the client's templates (notification).
	TemplatesWrite = "templates:write"
	// TemplatesRead reads the client's templates (notification).
	TemplatesRead = "templates:read"
	// SignaturesVerify validates signed documents (signature).
	SignaturesVerify = "signatures:verify"
	// PaymentsWrite creates and changes the client's payments (payment).
	PaymentsWrite = "payments:write"
	// PaymentsRead reads the client's payments (payment).
	PaymentsRead = "payments:read"
	// LedgerRead shows a client its own ministry's part of the ledger
	// (payment).
	LedgerRead = "ledger:read"
	// LedgerAdmin is the platform operator's view of the whole ledger
	// (payment).
	LedgerAdmin = "ledger:admin"
	// StampsCancel lets a ministry app use (cancel) an electronic revenue
	// stamp for a document it accepts, exactly once (payment).
	StampsCancel = "stamps:cancel"
	// ContentWrite creates and edits content items (content).
	ContentWrite = "content:write"
	// ContentRead reads content items (content); ContentWrite implies it.
	ContentRead = "content:read"
	// ContentRoles manages the content roles of the client's own ministry
	// (content).
	ContentRoles = "content:roles"
	// ContentAdmin is the platform operator's: it manages every ministry's
	// content roles and lifts a client's confinement to its own ministry
	// (content).
	ContentAdmin = "content:admin"
	// SigningSeal lets a ministry app hold an organisation credential and
	// seal documents (receipts, certificates) without a citizen (signature).
	SigningSeal = "signing:seal"
	// SigningAdmin lets an operator's client revoke any credential
	// (signature).
	SigningAdmin = "signing:admin"
	// WebhooksManage registers the client's webhook endpoints, rotates
	// their secrets, reads their delivery logs and replays deliveries
	// (notification).
	WebhooksManage = "webhooks:manage"
	// PasswordLogin lets a first-party app of the platform (its own native
	// apps) post a citizen's national ID and password to the JSON login
	// (auth). Operators grant it to no ministry client: ministry portals
	// sign citizens in with the authorization code flow on the hosted
	// pages. It is not advertised in the discovery document.
	PasswordLogin = "auth:password-login"
)

// All lists every scope, in a stable order (the order of the discovery
// document's scopes_supported).
func All() []string {
	return []string{
		CitizensRead, CitizensProof,
		NotificationsSend, NotificationsRead,
		TemplatesWrite, TemplatesRead, WebhooksManage,
		SignaturesVerify,
		PaymentsWrite, PaymentsRead, LedgerRead, LedgerAdmin, StampsCancel,
		ContentWrite, ContentRead, ContentRoles, ContentAdmin,
		SigningSeal, SigningAdmin,
		PasswordLogin,
	}
}

// Known reports whether s is one of All.
func Known(s string) bool { return slices.Contains(All(), s) }
