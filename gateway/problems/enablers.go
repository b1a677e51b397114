package problems

import "sort"

// Enabler is the list of the field-violation codes one enabler answers
// with (errors[].code of its problems), one per rule: the registry that
// the catalogue (texts.json), docs/errors.md and the OpenAPI document are
// checked against, so that none of them can miss a code. A code
// "*.<what>" stands for the rule what on any text field of the enabler
// (the platform's display-text check, libs/textcheck), whose field is
// the one the caller sent.
type Enabler struct {
	// Name is the enabler as the OpenAPI document tags its operations
	// and as services/<name> holds its code.
	Name string
	// Codes are its violation codes, sorted.
	Codes []string
}

// textCodes are the display-text check's rules (libs/textcheck), which
// every enabler applies to the text fields it keeps.
var textCodes = []string{"*.forbidden_character", "*.invalid_utf8"}

// uriCodes are the rules of a URI a client registers (auth's
// redirectURIProblem), for the field they follow.
func uriCodes(field string) []string {
	return prefixed(field, "fragment", "insecure", "not_absolute", "too_long", "userinfo")
}

// prefixed is field.<what> for every what.
func prefixed(field string, whats ...string) []string {
	out := make([]string, len(whats))
	for i, w := range whats {
		out[i] = field + "." + w
	}
	return out
}

// join is the sorted union of lists.
func join(lists ...[]string) []string {
	var out []string
	seen := map[string]bool{}
	for _, l := range lists {
		for _, c := range l {
			if !seen[c] {
				seen[c] = true
				out = append(out, c)
			}
		}
	}
	sort.Strings(out)
	return out
}

// Enablers are the five enablers' registries, by name.
var Enablers = []Enabler{
	{Name: "auth", Codes: join(textCodes,
		prefixed("allowed_origins", "fragment", "format", "host", "insecure", "not_ascii", "null", "path", "port", "query", "required", "too_long", "too_many", "userinfo", "wildcard"),
		uriCodes("backchannel_logout_uri"),
		prefixed("client_id", "format", "required", "token_mismatch", "unknown"),
		prefixed("client_secret", "length", "not_allowed"),
		prefixed("code", "incorrect", "no_tries_left", "required", "reused", "totp_mismatch", "tries_left"),
		[]string{"email.invalid", "evidence.length", "grant_type.unsupported", "id_token_signed_response_alg.unsupported"},
		prefixed("family_name", "characters", "letter_first", "required", "too_long"),
		prefixed("given_name", "characters", "letter_first", "required", "too_long"),
		prefixed("jwks", "exactly_one", "not_allowed", "unusable"),
		uriCodes("jwks_uri"),
		[]string{"max_acr.unsupported", "method.unsupported", "ministry.too_many_bytes", "name.required", "name.too_many_bytes"},
		prefixed("national_id", "check_digit", "digits", "length"),
		prefixed("organization", "control_character", "format_character", "invalid_utf8", "invisible_character", "letter_required", "look_alike", "mixed_script", "required", "script", "spacing", "too_long"),
		prefixed("password", "common", "encoding", "length", "personal"),
		prefixed("phone_number", "digits", "e164", "international_format", "not_mobile"),
		uriCodes("post_logout_redirect_uris"), prefixed("post_logout_redirect_uris", "not_loopback", "too_many"),
		[]string{"preferred_language.unsupported"},
		uriCodes("redirect_uris"), prefixed("redirect_uris", "not_loopback", "required", "too_many"),
		[]string{"scope.not_granted", "scopes.unknown"},
		prefixed("token_endpoint_auth_method", "public_client", "unsupported"),
	)},
	{Name: "content", Codes: join(textCodes,
		[]string{"base_version.required", "expire_time.before_publish"},
		prefixed("body", "not_allowed", "required", "too_many_bytes", "unsafe_link"),
		prefixed("eligibility", "not_allowed", "required", "too_many_bytes", "unsafe_link"),
		prefixed("fees", "not_allowed", "too_many"),
		[]string{"fees.amount.range", "fees.currency.unsupported"},
		prefixed("fees.description", "blank", "markup", "required", "too_long"),
		[]string{"from_version.range", "lang.unsupported"},
		[]string{"links.too_many", "links.url.format"},
		prefixed("links.title", "blank", "markup", "required", "too_long"),
		[]string{"ministry.format", "page_size.negative", "page_token.unknown"},
		prefixed("processing_time", "blank", "markup", "not_allowed", "too_long"),
		prefixed("q", "invalid_utf8", "no_words", "required", "too_many_bytes", "too_many_words"),
		prefixed("questions", "not_allowed", "required", "too_many"),
		prefixed("questions.answer", "required", "too_many_bytes", "unsafe_link"),
		prefixed("questions.question", "blank", "markup", "required", "too_long"),
		prefixed("required_documents", "blank", "markup", "not_allowed", "required", "too_long", "too_many"),
		[]string{"role.unsupported"},
		prefixed("slug", "format", "required", "too_many_bytes"),
		[]string{"state.unsupported"},
		prefixed("steps", "blank", "markup", "not_allowed", "required", "too_few", "too_long", "too_many"),
		prefixed("subject", "blank", "markup", "required", "too_long", "too_many_bytes"),
		prefixed("summary", "blank", "markup", "required", "too_long"),
		[]string{"tag.format", "tags.duplicate", "tags.format", "tags.too_many"},
		prefixed("title", "blank", "markup", "required", "too_long"),
		[]string{"to_version.range", "translations.language", "translations.required", "type.unsupported", "version.range"},
		prefixed("comment", "required", "too_long"),
	)},
	{Name: "notification", Codes: join(textCodes,
		[]string{"base_version.required"},
		prefixed("body", "required", "too_long"),
		[]string{"channel.unsupported"},
		prefixed("csv", "empty", "header", "malformed", "recipient_column", "too_large", "too_many", "with_recipients"),
		[]string{"email_address.invalid"},
		prefixed("events", "required", "unknown"),
		[]string{"expire_time.format"},
		prefixed("idempotency_key", "format", "reused"),
		[]string{"language.unsupported"},
		prefixed("name", "required", "too_long"),
		[]string{"page_token.unknown"},
		prefixed("payload", "format", "incomplete", "too_large"),
		prefixed("personalisation", "missing", "segments"),
		[]string{"personalisation.key.forbidden_character", "personalisation.key.invalid_utf8", "personalisation.value.forbidden_character", "personalisation.value.invalid_utf8"},
		prefixed("phone_number", "digits", "e164", "international_format", "not_mobile"),
		[]string{"priority.unsupported"},
		prefixed("recipients", "required", "too_many"),
		[]string{"reference.too_many_bytes"},
		[]string{"rows.email_address.invalid", "rows.invalid", "rows.personalisation.missing", "rows.personalisation.segments", "rows.reference.too_many_bytes"},
		prefixed("rows.phone_number", "digits", "e164", "international", "international_format", "not_mobile"),
		[]string{"status.unsupported"},
		prefixed("subject", "not_allowed", "one_line", "required", "too_long"),
		prefixed("template_id", "channel", "required", "unknown"),
		prefixed("url", "fragment", "insecure", "not_absolute", "not_public", "required", "too_long", "userinfo"),
		[]string{"version.negative"},
	)},
	{Name: "payment", Codes: join(textCodes,
		[]string{"amount.exceeds_max", "amount.range", "citizen_id.format", "currency.unsupported", "date.format", "department.format"},
		prefixed("debtor_iban", "check_digit", "country", "format", "length"),
		prefixed("due_date", "format", "outside_mandate", "period_taken", "too_soon"),
		prefixed("end_date", "before_start", "format", "too_far"),
		[]string{"frequency.unsupported", "max_amount.range"},
		prefixed("start_date", "format", "past"),
		prefixed("description", "required", "too_many_bytes"),
		prefixed("document_ref", "required", "too_many_bytes"),
		[]string{"currency.from_fee_type", "department.from_fee_type", "value.from_fee_type"},
		prefixed("fee_type", "format", "other_ministry", "unknown"),
		[]string{"id.required"},
		prefixed("name_ar", "required", "too_long"),
		prefixed("name_en", "required", "too_long"),
		prefixed("idempotency_key", "format", "reused"),
		[]string{"page_size.range", "page_token.unknown", "payment_id.required", "provider.unknown"},
		prefixed("quantity", "range", "total_range"),
		[]string{"reason.too_many_bytes", "receipt.email_address.invalid", "receipt.language.unsupported", "receipt.phone_number.international_format"},
		prefixed("reference", "required", "too_many_bytes"),
		[]string{"return_url.invalid", "serial.format"},
		[]string{"splits.account.duplicate", "splits.account.format", "splits.amount.range", "splits.required", "splits.sum_mismatch", "splits.too_many"},
		[]string{"state.unsupported", "value.range"},
	)},
	{Name: "signature", Codes: join(
		[]string{"credential_id.required", "description.invalid_utf8", "description.too_long"},
		prefixed("document", "not_pdf", "pades_required", "required", "too_large", "unparsable"),
		[]string{"document_name.too_many_bytes", "family_name.mismatch", "format.unsupported", "given_name.mismatch"},
		[]string{"hash.length", "hash.with_document", "hash_algorithm.unsupported", "hashes.count", "hashes.length"},
		[]string{"key_algorithm.unsupported", "national_id.mismatch", "organization_name.mismatch", "reason.unsupported", "sad.required", "signature.required"},
	)},
}

// EnablerCodes is the registry of the enabler name, nil for a name it
// does not know.
func EnablerCodes(name string) []string {
	for _, e := range Enablers {
		if e.Name == name {
			return e.Codes
		}
	}
	return nil
}
