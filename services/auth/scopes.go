package auth

// Scopes a ministry client can be granted. Each names what a client may
// call; the gateway enforces them per route.
const (
	ScopeCitizensRead      = "citizens:read"
	ScopeCitizensProof     = "citizens:proof"
	ScopeNotificationsSend = "notifications:send"
	ScopeNotificationsRead = "notifications:read"
	ScopeTemplatesWrite    = "templates:write"
	ScopeTemplatesRead     = "templates:read"
	ScopeSignaturesVerify  = "signatures:verify"
	ScopePaymentsWrite     = "payments:write"
	ScopePaymentsRead      = "payments:read"
	ScopeLedgerRead        = "ledger:read"
	// ScopeLedgerAdmin is the platform operator's view of the whole
	// ledger; ledger:read shows a client its own ministry's part only.
	ScopeLedgerAdmin        = "ledger:admin"
	ScopeContentWrite       = "content:write"
	ScopeContentRead        = "content:read"
	ScopeContentRolesManage = "content:roles"
	// ScopeContentAdmin is the platform operator's: it manages every
	// ministry's content roles; content:roles manages the client's own.
	ScopeContentAdmin = "content:admin"
	// ScopeSigningSeal lets a ministry app hold an organisation credential
	// and seal documents (receipts, certificates) without a citizen.
	ScopeSigningSeal = "signing:seal"
	// ScopeSigningAdmin lets an operator's client revoke any credential.
	ScopeSigningAdmin = "signing:admin"
)

// AllScopes lists every scope, in a stable order.
func AllScopes() []string {
	return []string{
		ScopeCitizensRead, ScopeCitizensProof,
		ScopeNotificationsSend, ScopeNotificationsRead,
		ScopeTemplatesWrite, ScopeTemplatesRead,
		ScopeSignaturesVerify,
		ScopePaymentsWrite, ScopePaymentsRead, ScopeLedgerRead, ScopeLedgerAdmin,
		ScopeContentWrite, ScopeContentRead, ScopeContentRolesManage, ScopeContentAdmin,
		ScopeSigningSeal, ScopeSigningAdmin,
	}
}

// knownScope reports whether s is one of AllScopes.
func knownScope(s string) bool {
	for _, k := range AllScopes() {
		if k == s {
			return true
		}
	}
	return false
}
