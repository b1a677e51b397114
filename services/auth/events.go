package auth

import (
	"context"
	"database/sql"
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/tamkeen/tamkeen/libs/events"
)

// Events the service publishes on tamkeen.auth.<event>, through the
// outbox in the transaction of the change they announce. They are the
// audit trail of accounts and logins and never carry a secret, a code, a
// password or a national ID in clear: citizen_registered and
// citizen_proofed carry the citizen's identity (national ID, given and
// family name) only sealed to the signature enabler's identity key
// (sealed_identity; see sealIdentity), so that a signing certificate names
// the citizen as registered here. citizen_phone_verified carries the
// number just verified, the one personal detail in clear: the
// notification enabler texts it what the platform sends in the citizen's
// name (direct-debit announcements), as it already gets it in every OTP
// command.
const (
	EventCitizenRegistered    = "citizen_registered"
	EventCitizenPhoneVerified = "citizen_phone_verified"
	EventCitizenProofed       = "citizen_proofed"
	EventLoginSucceeded       = "login_succeeded"
	EventLoginFailed          = "login_failed"
	EventStepUpSucceeded      = "step_up_succeeded"
	EventLocked               = "locked"
	// EventSessionRevoked announces a session ended early (logout,
	// refresh-token reuse): the gateway refuses the session's access
	// tokens from then on.
	EventSessionRevoked = "session_revoked"
	// EventAccountUnlocked: the citizen lifted the login locks by SMS.
	EventAccountUnlocked = "account_unlocked"
)

// SubjectSessionRevoked is the subject the gateway's revocation set
// consumes.
const SubjectSessionRevoked = "tamkeen.auth." + EventSessionRevoked

// SubjectOTPSMS is the notification service's OTP lane for SMS commands
// (eventsv1.SendSms): its own lane, so a code never waits behind a bulk
// campaign. The command holds the code; see PruneOutbox.
const SubjectOTPSMS = "tamkeen.notification.cmd.otp.sms"

// typeSendSMS is the CloudEvents type of the SMS command.
const typeSendSMS = "tamkeen.notification.cmd.send_sms.v1"

// OTPTemplateID is the notification service's built-in OTP SMS template;
// its personalisation is {"code": "123456"}.
const OTPTemplateID = "tamkeen:otp"

// RegistrationAttemptTemplateID is the notification service's built-in
// SMS that tells a registered citizen someone tried to register with
// their national ID; it has no personalisation.
const RegistrationAttemptTemplateID = "tamkeen:registration-attempt"

// emit writes an auth event for subject (a citizen id, or "") to the
// outbox inside tx.
func (s *Service) emit(ctx context.Context, tx *sql.Tx, event, subject string, msg proto.Message) error {
	ev, err := s.Events.New("tamkeen.auth."+event+".v1", msg)
	if err != nil {
		return err
	}
	ev.Subject = subject
	if err := events.Enqueue(ctx, tx, events.Subject(Name, event), ev); err != nil {
		return fmt.Errorf("auth: enqueue %s: %w", event, err)
	}
	return nil
}

// command writes a command to another service to the outbox inside tx.
func (s *Service) command(ctx context.Context, tx *sql.Tx, subject, typ string, msg proto.Message) error {
	ev, err := s.Events.New(typ, msg)
	if err != nil {
		return err
	}
	if err := events.Enqueue(ctx, tx, subject, ev); err != nil {
		return fmt.Errorf("auth: enqueue command %s: %w", typ, err)
	}
	return nil
}
