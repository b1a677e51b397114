package gateway

import (
	"strconv"
	"strings"
	"time"

	"github.com/tamkeen/tamkeen/libs/scope"
	authv1 "github.com/tamkeen/tamkeen/proto/tamkeen/auth/v1"
	contentv1 "github.com/tamkeen/tamkeen/proto/tamkeen/content/v1"
	notificationv1 "github.com/tamkeen/tamkeen/proto/tamkeen/notification/v1"
	paymentv1 "github.com/tamkeen/tamkeen/proto/tamkeen/payment/v1"
	signaturev1 "github.com/tamkeen/tamkeen/proto/tamkeen/signature/v1"
)

// Principal is a kind of caller, as told by its access token. As a
// Policy's Callers it is a set (Client|Citizen); as a Caller's Kind it is
// exactly one of them.
type Principal uint8

// Principals a route can admit.
const (
	// Client is a ministry application holding a client_credentials token
	// (sub = client_id, scope, no acr).
	Client Principal = 1 << iota
	// Citizen is a person holding a login token (sub = citizen ID, acr,
	// amr, auth_time, no client_id).
	Citizen
	// Either admits client and citizen tokens.
	Either = Client | Citizen
)

// String names the principal set for problems, logs and docs.
func (p Principal) String() string {
	switch p {
	case Client:
		return "client"
	case Citizen:
		return "citizen"
	case Either:
		return "client or citizen"
	default:
		return "nobody"
	}
}

// Levels of assurance a citizen token carries in acr (DESIGN.md section 5).
const (
	// ACRLoa1 is password authentication.
	ACRLoa1 = "loa1"
	// ACRLoa2 is password plus a one-time code (SMS or TOTP).
	ACRLoa2 = "loa2"
)

// acrRank orders the levels of assurance; unknown values rank 0, below
// every requirement.
func acrRank(acr string) int {
	switch acr {
	case ACRLoa1:
		return 1
	case ACRLoa2:
		return 2
	default:
		return 0
	}
}

// StepUpMaxAge is how old a loa2 authentication may be for the routes that
// need a fresh step-up (RFC 9470 max_age).
const StepUpMaxAge = 300 * time.Second

// Policy is who may call one gRPC method through the gateway.
type Policy struct {
	// Public routes need no token; a presented token is not verified by
	// the gateway (it is still forwarded: the service may use it, as the
	// auth service does for a step-up verification).
	Public bool
	// Callers are the token kinds admitted; zero admits nobody.
	Callers Principal
	// Scopes must all be granted to a client token. Citizen tokens carry
	// no scopes; for them ACR and MaxAge apply instead.
	Scopes []string
	// AdminScope, when set, admits a client token holding it in place of
	// Scopes: the platform operator's scope, with which the service lifts
	// its confinement of a client to its own ministry.
	AdminScope string
	// ACR is the least level of assurance of a citizen token.
	ACR string
	// MaxAge bounds how long ago the citizen authenticated (auth_time) at
	// that level; zero means no bound.
	MaxAge time.Duration
}

// String is a one-line summary, used by the docs and the OpenAPI document.
func (p Policy) String() string {
	if p.Public {
		return "public (no token needed)"
	}
	var parts []string
	if p.Callers&Client != 0 {
		s := "client token"
		if len(p.Scopes) > 0 {
			s += " with scope " + strings.Join(p.Scopes, " ")
		}
		if p.AdminScope != "" {
			s += " (or " + p.AdminScope + ")"
		}
		parts = append(parts, s)
	}
	if p.Callers&Citizen != 0 {
		s := "citizen token"
		if p.ACR != "" {
			s += " with acr " + p.ACR + " or higher"
		}
		if p.MaxAge > 0 {
			s += " authenticated within the last " + strconv.FormatInt(int64(p.MaxAge/time.Second), 10) + " seconds"
		}
		parts = append(parts, s)
	}
	if len(parts) == 0 {
		return "nobody"
	}
	return strings.Join(parts, ", or ")
}

// Policies returns the route policy of every gRPC method the gateway
// exposes, keyed by full method name ("/tamkeen.auth.v1.AuthService/Login").
// It is the one table of access rules; a method without an entry is denied
// (403), and a test fails when a method of the five services has none.
// docs/api-policy.md describes it route by route.
func Policies() map[string]Policy {
	public := Policy{Public: true}
	client := func(scopes ...string) Policy { return Policy{Callers: Client, Scopes: scopes} }
	citizen := Policy{Callers: Citizen, ACR: ACRLoa1}
	stepUp := Policy{Callers: Citizen, ACR: ACRLoa2, MaxAge: StepUpMaxAge}
	// orStepUp admits a client with the scopes or a freshly stepped-up citizen.
	orStepUp := func(scopes ...string) Policy {
		return Policy{Callers: Either, Scopes: scopes, ACR: ACRLoa2, MaxAge: StepUpMaxAge}
	}
	// orCitizen admits a client with the scopes or any signed-in citizen.
	orCitizen := func(scopes ...string) Policy { return Policy{Callers: Either, Scopes: scopes, ACR: ACRLoa1} }
	// Ministry editors are either the ministry's app (a client token with
	// the scope) or its staff signed in as citizens; the content service
	// checks the staff member's role in the ministry.
	editor := func(need string) Policy { return Policy{Callers: Either, Scopes: []string{need}, ACR: ACRLoa1} }
	// orAdmin admits a client with the scope or with the platform
	// operator's admin scope; the service confines the first to its own
	// ministry (the token's ministry claim).
	orAdmin := func(need, admin string) Policy {
		return Policy{Callers: Client, Scopes: []string{need}, AdminScope: admin}
	}

	return map[string]Policy{
		// auth: sign-up and the token endpoints are how a caller gets a
		// token, so they cannot need one. The JSON password login is the
		// platform's first-party apps' only (issue 14 item 7): ministry
		// portals use the code flow on the hosted pages, which call the
		// password check in-process and not this route.
		authv1.AuthService_IssueToken_FullMethodName:             public,
		authv1.AuthService_GetOpenIdConfiguration_FullMethodName: public,
		authv1.AuthService_GetJwks_FullMethodName:                public,
		authv1.AuthService_RegisterCitizen_FullMethodName:        public,
		authv1.AuthService_Login_FullMethodName:                  client(scope.PasswordLogin),
		authv1.AuthService_Refresh_FullMethodName:                public,
		authv1.AuthService_Logout_FullMethodName:                 public,
		// A locked-out citizen has no token; the answer is the same
		// whether or not the national ID is registered.
		authv1.AuthService_StartUnlock_FullMethodName:  public,
		authv1.AuthService_VerifyUnlock_FullMethodName: public,
		// Phone verification after sign-up has no token yet; for a step-up
		// the auth service checks the token bound to the challenge itself.
		authv1.AuthService_VerifyOtpChallenge_FullMethodName: public,
		authv1.AuthService_CreateOtpChallenge_FullMethodName: citizen,
		authv1.AuthService_EnrollTotp_FullMethodName:         stepUp,
		authv1.AuthService_ConfirmTotp_FullMethodName:        stepUp,
		// A citizen's own sessions; the service answers another's 404.
		authv1.AuthService_ListSessions_FullMethodName:  citizen,
		authv1.AuthService_DeleteSession_FullMethodName: citizen,
		authv1.AuthService_GetCitizen_FullMethodName:    client(scope.CitizensRead),
		authv1.AuthService_ProofCitizen_FullMethodName:  client(scope.CitizensProof),

		// notification: ministry apps only; receipts are signed by the
		// provider and verified by the service.
		notificationv1.NotificationService_SendSms_FullMethodName:                client(scope.NotificationsSend),
		notificationv1.NotificationService_SendEmail_FullMethodName:              client(scope.NotificationsSend),
		notificationv1.NotificationService_CreateBulkJob_FullMethodName:          client(scope.NotificationsSend),
		notificationv1.NotificationService_GetNotification_FullMethodName:        client(scope.NotificationsRead),
		notificationv1.NotificationService_ListNotifications_FullMethodName:      client(scope.NotificationsRead),
		notificationv1.NotificationService_GetBulkJob_FullMethodName:             client(scope.NotificationsRead),
		notificationv1.NotificationService_UploadBulkJob_FullMethodName:          client(scope.NotificationsSend),
		notificationv1.NotificationService_ListBulkJobErrors_FullMethodName:      client(scope.NotificationsRead),
		notificationv1.NotificationService_CreateTemplate_FullMethodName:         client(scope.TemplatesWrite),
		notificationv1.NotificationService_UpdateTemplate_FullMethodName:         client(scope.TemplatesWrite),
		notificationv1.NotificationService_GetTemplate_FullMethodName:            client(scope.TemplatesRead),
		notificationv1.NotificationService_ListTemplates_FullMethodName:          client(scope.TemplatesRead),
		notificationv1.NotificationService_PreviewTemplate_FullMethodName:        client(scope.TemplatesRead),
		notificationv1.NotificationService_ReceiveDeliveryReceipt_FullMethodName: public,
		// A client's own webhook endpoints; the service answers another's 404.
		notificationv1.NotificationService_CreateWebhookEndpoint_FullMethodName: client(scope.WebhooksManage),
		notificationv1.NotificationService_ListWebhookEndpoints_FullMethodName:  client(scope.WebhooksManage),
		notificationv1.NotificationService_GetWebhookEndpoint_FullMethodName:    client(scope.WebhooksManage),
		notificationv1.NotificationService_DeleteWebhookEndpoint_FullMethodName: client(scope.WebhooksManage),
		notificationv1.NotificationService_RotateWebhookSecret_FullMethodName:   client(scope.WebhooksManage),
		notificationv1.NotificationService_ListWebhookDeliveries_FullMethodName: client(scope.WebhooksManage),
		notificationv1.NotificationService_ReplayWebhookDelivery_FullMethodName: client(scope.WebhooksManage),

		// signature: a citizen's own credentials. Issuing, authorising and
		// revoking need a fresh step-up (sole control); signing itself is
		// authorised by the single-use SAD, so loa1 suffices to present it.
		// A ministry app with signing:seal holds an organisation credential
		// (the government's seal on receipts and certificates) and uses it
		// without a citizen; signing:admin lets operators revoke any.
		signaturev1.SignatureService_CreateCredential_FullMethodName:    orStepUp(scope.SigningSeal),
		signaturev1.SignatureService_AuthorizeCredential_FullMethodName: orStepUp(scope.SigningSeal),
		signaturev1.SignatureService_RevokeCredential_FullMethodName:    orStepUp(scope.SigningAdmin),
		signaturev1.SignatureService_GetCredential_FullMethodName:       orCitizen(scope.SigningSeal),
		signaturev1.SignatureService_ListCredentials_FullMethodName:     orCitizen(scope.SigningSeal),
		signaturev1.SignatureService_SignDocument_FullMethodName:        orCitizen(scope.SigningSeal),
		signaturev1.SignatureService_VerifySignature_FullMethodName:     client(scope.SignaturesVerify),
		// PKI services relying parties call without any account.
		signaturev1.SignatureService_Timestamp_FullMethodName:         public,
		signaturev1.SignatureService_GetCaCertificates_FullMethodName: public,
		signaturev1.SignatureService_GetCrl_FullMethodName:            public,
		signaturev1.SignatureService_CheckOcsp_FullMethodName:         public,

		// payment: ministry apps and finance clients; webhooks are signed.
		paymentv1.PaymentService_CreatePayment_FullMethodName: client(scope.PaymentsWrite),
		paymentv1.PaymentService_CancelPayment_FullMethodName: client(scope.PaymentsWrite),
		paymentv1.PaymentService_CreateRefund_FullMethodName:  client(scope.PaymentsWrite),
		paymentv1.PaymentService_GetPayment_FullMethodName:    client(scope.PaymentsRead),
		paymentv1.PaymentService_ListPayments_FullMethodName:  client(scope.PaymentsRead),
		// A ministry's finance client sees its own departments' part of
		// the ledger; ledger:admin is the platform-wide view.
		paymentv1.PaymentService_GetTrialBalance_FullMethodName:       orAdmin(scope.LedgerRead, scope.LedgerAdmin),
		paymentv1.PaymentService_ListLedgerAccounts_FullMethodName:    orAdmin(scope.LedgerRead, scope.LedgerAdmin),
		paymentv1.PaymentService_Reconcile_FullMethodName:             orAdmin(scope.LedgerRead, scope.LedgerAdmin),
		paymentv1.PaymentService_HandleProviderWebhook_FullMethodName: public,
		// Revenue stamps: a ministry app or a signed-in citizen buys them
		// (a payment; a citizen only of a fee type a ministry registered),
		// anyone holding a serial verifies it, and a ministry accepting one
		// cancels it with stamps:cancel. A buyer lists and prints its own
		// stamps; the issuing ministry prints them too; the service answers
		// anyone else's print 404. The fee-type catalogue is public.
		paymentv1.PaymentService_CreateStamps_FullMethodName:         orCitizen(scope.PaymentsWrite),
		paymentv1.PaymentService_GetStamp_FullMethodName:             public,
		paymentv1.PaymentService_CancelStamp_FullMethodName:          client(scope.StampsCancel),
		paymentv1.PaymentService_ListStamps_FullMethodName:           orCitizen(scope.PaymentsRead),
		paymentv1.PaymentService_PrintStamp_FullMethodName:           orCitizen(scope.PaymentsRead),
		paymentv1.PaymentService_RegisterStampFeeType_FullMethodName: client(scope.PaymentsWrite),
		paymentv1.PaymentService_ListStampFeeTypes_FullMethodName:    public,
		// Direct debit: a ministry app asks for a mandate and schedules
		// collections; the citizen signs it off with a fresh step-up and
		// may revoke it at any time. Reads: the ministry that created it
		// or the citizen bound to it (the service answers others 404).
		paymentv1.PaymentService_CreateMandate_FullMethodName:    client(scope.PaymentsWrite),
		paymentv1.PaymentService_GetMandate_FullMethodName:       orCitizen(scope.PaymentsRead),
		paymentv1.PaymentService_ListMandates_FullMethodName:     orCitizen(scope.PaymentsRead),
		paymentv1.PaymentService_AuthorizeMandate_FullMethodName: stepUp,
		paymentv1.PaymentService_RevokeMandate_FullMethodName:    citizen,
		paymentv1.PaymentService_CreateCollection_FullMethodName: client(scope.PaymentsWrite),

		// content: the editorial workflow and its history.
		contentv1.ContentService_CreateItem_FullMethodName:       editor(scope.ContentWrite),
		contentv1.ContentService_SaveDraft_FullMethodName:        editor(scope.ContentWrite),
		contentv1.ContentService_SubmitItem_FullMethodName:       editor(scope.ContentWrite),
		contentv1.ContentService_ApproveItem_FullMethodName:      editor(scope.ContentWrite),
		contentv1.ContentService_RejectItem_FullMethodName:       editor(scope.ContentWrite),
		contentv1.ContentService_PublishItem_FullMethodName:      editor(scope.ContentWrite),
		contentv1.ContentService_UnpublishItem_FullMethodName:    editor(scope.ContentWrite),
		contentv1.ContentService_ArchiveItem_FullMethodName:      editor(scope.ContentWrite),
		contentv1.ContentService_RollbackItem_FullMethodName:     editor(scope.ContentWrite),
		contentv1.ContentService_GetItem_FullMethodName:          editor(scope.ContentRead),
		contentv1.ContentService_ListItems_FullMethodName:        editor(scope.ContentRead),
		contentv1.ContentService_ListItemVersions_FullMethodName: editor(scope.ContentRead),
		contentv1.ContentService_GetItemVersion_FullMethodName:   editor(scope.ContentRead),
		contentv1.ContentService_DiffItemVersions_FullMethodName: editor(scope.ContentRead),
		contentv1.ContentService_ListTransitions_FullMethodName:  editor(scope.ContentRead),
		// A ministry's admin app manages its own ministry's roles;
		// content:admin every ministry's.
		contentv1.ContentService_GrantRole_FullMethodName:  orAdmin(scope.ContentRoles, scope.ContentAdmin),
		contentv1.ContentService_RevokeRole_FullMethodName: orAdmin(scope.ContentRoles, scope.ContentAdmin),
		// The published site and its search are for everyone.
		contentv1.ContentService_GetPublicContent_FullMethodName:    public,
		contentv1.ContentService_ListPublicContent_FullMethodName:   public,
		contentv1.ContentService_SearchPublicContent_FullMethodName: public,
		contentv1.ContentService_GetPublicFeed_FullMethodName:       public,
	}
}
