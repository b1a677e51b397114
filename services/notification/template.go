package notification

import (
	"errors"
	"fmt"
	"html"
	"strings"
)

// Channels a notification goes over.
const (
	// ChannelSMS is a text message to a phone number.
	ChannelSMS = "sms"
	// ChannelEmail is an e-mail.
	ChannelEmail = "email"
)

// Languages templates come in.
const (
	// LangArabic is the default: most recipients read Arabic.
	LangArabic = "ar"
	// LangEnglish is for recipients who asked for English.
	LangEnglish = "en"
)

// OTPTemplateID is the built-in template the auth enabler sends one-time
// codes with; its personalisation is {"code": "<digits>"}.
const OTPTemplateID = "tamkeen:otp"

// RegistrationAttemptTemplateID is the built-in SMS the auth enabler sends
// to a registered citizen when someone tries to register with their
// national ID; it has no personalisation.
const RegistrationAttemptTemplateID = "tamkeen:registration-attempt"

// redactedValue replaces a secret personalisation value (an OTP code) in
// the body kept in the database.
const redactedValue = "••••••"

// Template is one version of a message in one channel and language. Its
// body uses GOV.UK Notify's ((placeholder)) convention.
type Template struct {
	// ID names the template; built-in ones start with "tamkeen:".
	ID string
	// Channel is ChannelSMS or ChannelEmail.
	Channel string
	// Language is LangArabic or LangEnglish.
	Language string
	// Body is the text with ((placeholders)).
	Body string
	// Secrets are placeholders whose values must never rest anywhere: the
	// stored copy of the message shows them redacted.
	Secrets []string
}

// BuiltinTemplates returns the templates Tamkeen ships, a fresh slice each
// call. The OTP texts fit one SMS for codes of up to ten digits: one UCS-2
// segment in Arabic and one GSM-7 segment in English.
func BuiltinTemplates() []Template {
	return []Template{
		{
			ID: OTPTemplateID, Channel: ChannelSMS, Language: LangArabic,
			Body:    "رمز التحقق في تمكين: ((code)). صالح 5 دقائق. لا تشاركه مع أحد.",
			Secrets: []string{"code"},
		},
		{
			ID: OTPTemplateID, Channel: ChannelSMS, Language: LangEnglish,
			Body:    "Your Tamkeen verification code is ((code)). It expires in 5 minutes. Do not share it with anyone.",
			Secrets: []string{"code"},
		},
		{
			ID: RegistrationAttemptTemplateID, Channel: ChannelSMS, Language: LangArabic,
			Body: "حاول أحد التسجيل في تمكين برقم هويتك. إن كنت أنت فسجّل الدخول.",
		},
		{
			ID: RegistrationAttemptTemplateID, Channel: ChannelSMS, Language: LangEnglish,
			Body: "Someone tried to register on Tamkeen with your ID number. If it was you, you already have an account: log in. If not, you need do nothing.",
		},
	}
}

// templateKey locates a template version.
type templateKey struct{ id, channel, language string }

// templateSet finds templates by id, channel and language.
type templateSet map[templateKey]Template

// newTemplateSet indexes ts.
func newTemplateSet(ts []Template) templateSet {
	set := make(templateSet, len(ts))
	for _, t := range ts {
		set[templateKey{t.ID, t.Channel, t.Language}] = t
	}
	return set
}

// ErrTemplateNotFound is returned for a template id, channel and language
// that no template has.
var ErrTemplateNotFound = errors.New("notification: template not found")

// find returns the template or ErrTemplateNotFound.
func (s templateSet) find(id, channel, language string) (Template, error) {
	t, ok := s[templateKey{id, channel, language}]
	if !ok {
		return Template{}, fmt.Errorf("%w: %s (%s, %s)", ErrTemplateNotFound, id, channel, language)
	}
	return t, nil
}

// MissingPlaceholderError reports a ((placeholder)) that the
// personalisation gives no value for.
type MissingPlaceholderError struct {
	// Name is the placeholder, without the parentheses.
	Name string
}

// Error names the placeholder, never a value.
func (e *MissingPlaceholderError) Error() string {
	return fmt.Sprintf("notification: personalisation has no value for ((%s))", e.Name)
}

// Render replaces every ((name)) in body with values[name]. Spaces around
// the name are ignored; a "((" with no closing "))" on the same line, or an
// empty name, is ordinary text. A placeholder without a value is a
// *MissingPlaceholderError naming the first one missing. Values are
// inserted as they are, once: a value containing ((x)) is not rendered
// again.
func Render(body string, values map[string]string) (string, error) {
	var missing string
	out := expand(body, func(name string) (string, bool) {
		v, ok := values[name]
		if !ok && missing == "" {
			missing = name
		}
		return v, ok
	})
	if missing != "" {
		return "", &MissingPlaceholderError{Name: missing}
	}
	return out, nil
}

// Placeholders lists the distinct placeholder names of body in order of
// first use.
func Placeholders(body string) []string {
	var names []string
	seen := map[string]bool{}
	expand(body, func(name string) (string, bool) {
		if !seen[name] {
			seen[name] = true
			names = append(names, name)
		}
		return "", true
	})
	return names
}

// expand is the one parser of ((placeholders)): it copies body, replacing
// each placeholder with what value returns for its name (or leaving it as
// it is when value reports false).
func expand(body string, value func(name string) (string, bool)) string {
	return expandWith(body, value, nil)
}

// expandWith is expand with literal text passed through lit (nil: as it
// is), so that the HTML renderer escapes the template's own text too.
func expandWith(body string, value func(name string) (string, bool), lit func(string) string) string {
	if lit == nil {
		lit = func(s string) string { return s }
	}
	var b strings.Builder
	b.Grow(len(body))
	rest := body
	for {
		open := strings.Index(rest, "((")
		if open < 0 {
			b.WriteString(lit(rest))
			return b.String()
		}
		// A run of "(((" opens at its last pair, as Notify reads it.
		for open+2 < len(rest) && rest[open+2] == '(' {
			open++
		}
		end := strings.Index(rest[open+2:], "))")
		inner := ""
		if end >= 0 {
			inner = rest[open+2 : open+2+end]
		}
		name := strings.TrimSpace(inner)
		if end < 0 || name == "" || strings.ContainsAny(inner, "()\n") {
			// Not a placeholder: keep the first "(" and look again after it.
			b.WriteString(lit(rest[:open+1]))
			rest = rest[open+1:]
			continue
		}
		next := open + 2 + end + 2
		v, ok := value(name)
		if !ok {
			v = lit(rest[open:next])
		}
		b.WriteString(lit(rest[:open]))
		b.WriteString(v)
		rest = rest[next:]
	}
}

// renderSMS renders t for values and returns the text to send and the text
// to store, which has every secret value redacted.
func renderSMS(t Template, values map[string]string) (send, stored string, err error) {
	send, err = Render(t.Body, values)
	if err != nil {
		return "", "", err
	}
	if len(t.Secrets) == 0 {
		return send, send, nil
	}
	redacted := make(map[string]string, len(values))
	for k, v := range values {
		redacted[k] = v
	}
	for _, s := range t.Secrets {
		redacted[s] = redactedValue
	}
	stored, err = Render(t.Body, redacted)
	if err != nil {
		return "", "", err
	}
	return send, stored, nil
}

// RenderHTMLEmail renders an e-mail body template as a complete HTML
// document: the template's text and every value HTML-escaped, blank lines
// separating paragraphs, single newlines as <br>, and Arabic laid out
// right-to-left (dir="rtl", lang="ar") as mail clients need to be told.
// Missing values render as their placeholder; Render reports them first.
func RenderHTMLEmail(language, subject, body string, values map[string]string) string {
	dir := "ltr"
	if language == LangArabic {
		dir = "rtl"
	}
	escaped := expandWith(body, func(name string) (string, bool) {
		v, ok := values[name]
		return html.EscapeString(v), ok
	}, html.EscapeString)
	var b strings.Builder
	b.WriteString("<!DOCTYPE html>\n<html lang=\"" + html.EscapeString(language) + "\" dir=\"" + dir + "\">\n<head>\n<meta charset=\"utf-8\">\n<title>")
	b.WriteString(html.EscapeString(subject))
	b.WriteString("</title>\n</head>\n<body dir=\"" + dir + "\" style=\"font-family: Tahoma, Arial, sans-serif; text-align: ")
	if dir == "rtl" {
		b.WriteString("right")
	} else {
		b.WriteString("left")
	}
	b.WriteString(";\">\n")
	for _, para := range strings.Split(strings.ReplaceAll(escaped, "\r\n", "\n"), "\n\n") {
		if strings.TrimSpace(para) == "" {
			continue
		}
		b.WriteString("<p>")
		b.WriteString(strings.ReplaceAll(strings.TrimSpace(para), "\n", "<br>\n"))
		b.WriteString("</p>\n")
	}
	b.WriteString("</body>\n</html>\n")
	return b.String()
}
