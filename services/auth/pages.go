package auth

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/tamkeen/tamkeen/libs/i18n"
	"github.com/tamkeen/tamkeen/libs/rpcerr"
)

// The hosted sign-in pages of the authorization code flow: server-rendered
// (html/template, embedded), no JavaScript, no CDN, one column, Arabic and
// right-to-left by default, English by ui_locales=en or the switch link.
// Every form carries a CSRF token tied to the authorization request and
// the browser's binding cookie, which the request's row also holds.

//go:embed pages/*.html pages/pages.css pages/texts.json
var pageFiles embed.FS

var pageTemplates = template.Must(template.ParseFS(pageFiles, "pages/*.html"))

var pageCSS, _ = pageFiles.ReadFile("pages/pages.css")

// maxPageForm bounds a page's form body.
const maxPageForm = 8 << 10

// pageTexts are the pages' words, by language: pages/texts.json, which a
// translator edits without touching Go. Every language has every key
// (TestPageTextsComplete).
var pageTexts = i18n.Load[map[string]string](pageFiles, "pages/texts.json")

// pageLang picks the page language from ui_locales (or ?lang=): English
// when asked first, Arabic otherwise.
func pageLang(locales string) string {
	for _, tag := range strings.Fields(locales) {
		switch strings.ToLower(strings.SplitN(tag, "-", 2)[0]) {
		case "en":
			return "en"
		case "ar":
			return "ar"
		}
	}
	return "ar"
}

// pages serves the hosted pages.
type pages struct{ svc *Service }

// pageData is what the templates render.
type pageData struct {
	Lang, Dir, Title, Error, Message string
	T                                map[string]string
	Org                              string
	RequestID, CSRF                  string
	SwitchURL, SwitchLang            string
	SwitchLabel                      string
	// Fields are error texts by input name (aria-describedby ties them to
	// their inputs); Values re-fill the inputs that are no secret.
	Fields, Values map[string]string
	// Notice is a confirmation above the form.
	Notice string
	// The code pages: where the code goes, which flow resends ("" for
	// the step-up), whether a new password is asked for, and the resend
	// countdown (ResendIn seconds, "" and 0 once a new code may be sent).
	CodeAction, Flow, CodeText string
	NewPassword                bool
	// The step-up page: Method is the challenge's ("sms" or "totp");
	// AltMethod and AltText offer the other one.
	Method, AltMethod, AltText string
	ResendText                 string
	ResendIn                   int
	// Links of the sign-in page.
	SignUpURL, ResetURL, SignInURL string
}

// csrfToken ties a form to its authorization request and the browser.
func (p *pages) csrfToken(requestID, binding string) string {
	return mac(p.svc.keys.lookup, "csrf", requestID+"|"+binding)
}

// render writes a page with the security headers; formTarget is the
// origin the page's forms may end up at after redirects (the client's
// registered redirect URI), besides the provider itself.
func (p *pages) render(w http.ResponseWriter, status int, name string, d pageData, formTarget string) {
	d.Dir = "rtl"
	if d.Lang == "en" {
		d.Dir = "ltr"
	}
	d.T = pageTexts[d.Lang]
	var buf bytes.Buffer
	if err := pageTemplates.ExecuteTemplate(&buf, name, d); err != nil {
		p.svc.Logger.Error("auth: render page", slog.String("page", name), slog.String("error", err.Error()))
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	formAction := "'self'"
	if formTarget != "" {
		formAction += " " + formTarget
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self'; form-action "+formAction+"; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Frame-Options", "DENY")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// origin is scheme://host of a URL ("" when it has none).
func origin(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

// langOf is the page language of a request: ?lang= (the switch) first,
// then the authorization request's ui_locales.
func langOf(r *http.Request, uiLocales string) string {
	if l := r.URL.Query().Get("lang"); l == "en" || l == "ar" {
		return l
	}
	return pageLang(uiLocales)
}

// base is the data every page of an open request has.
func (p *pages) base(r *http.Request, row authRequestRow, binding, title string) pageData {
	lang := langOf(r, row.UILocales)
	d := pageData{Lang: lang, T: pageTexts[lang], Title: pageTexts[lang][title], RequestID: row.ID, CSRF: p.csrfToken(row.ID, binding)}
	if c, err := p.svc.Client(r.Context(), row.ClientID); err == nil {
		d.Org = c.Organization
		if d.Org == "" {
			d.Org = c.Name
		}
	}
	other := "en"
	if lang == "en" {
		other = "ar"
	}
	d.SwitchURL, d.SwitchLang, d.SwitchLabel = r.URL.Path+"?ar="+url.QueryEscape(row.ID)+"&lang="+other, other, pageTexts[lang]["switch"]
	q := "?ar=" + url.QueryEscape(row.ID) + "&lang=" + lang
	d.SignUpURL, d.ResetURL, d.SignInURL = pathSignUp+q, pathReset+q, pathLogin+q
	d.CodeAction, d.CodeText = pathCode+q, d.T["code_sent"]
	return d
}

// message renders a page with a title and one message.
func (p *pages) message(w http.ResponseWriter, r *http.Request, status int, lang, title, msg string) {
	t := pageTexts[lang]
	p.render(w, status, "message.html", pageData{Lang: lang, Title: t[title], Message: msg}, "")
}

// checkAuthorize answers an authorization request for an unknown client
// or an unregistered redirect URI with an error page (never a redirect),
// and hands the others to the protocol layer.
func (p *pages) checkAuthorize(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, maxPageForm)
		if err := r.ParseForm(); err != nil {
			p.message(w, r, http.StatusBadRequest, "ar", "error_title", pageTexts["ar"]["expired"])
			return
		}
		lang := pageLang(r.Form.Get("ui_locales"))
		c, err := p.svc.Client(r.Context(), r.Form.Get("client_id"))
		if err != nil || c.Disabled || len(c.RedirectURIs) == 0 {
			p.message(w, r, http.StatusBadRequest, lang, "error_title", pageTexts[lang]["unknown_client"])
			return
		}
		if !c.RedirectAllowed(r.Form.Get("redirect_uri")) {
			p.message(w, r, http.StatusBadRequest, lang, "error_title", pageTexts[lang]["bad_redirect"])
			return
		}
		next.ServeHTTP(w, r)
	})
}

// formPage is what a form page's handler starts from: the authorization
// request, the browser's binding, the page's data and the forms' target
// (the client's origin).
type formPage struct {
	row     authRequestRow
	binding string
	d       pageData
	target  string
}

// openForm starts every form page: GET or POST only, the request open for
// this browser (and on POST the CSRF token right), the page's data titled
// title, filled in by prepare when it is not nil (false: prepare has
// answered). A GET is answered with the page tmpl; a POST is left to the
// handler, which takes the posted form. It is false when it has answered.
func (p *pages) openForm(w http.ResponseWriter, r *http.Request, title, tmpl string, prepare func(*formPage) bool) (formPage, bool) {
	if !allowMethods(w, r) {
		return formPage{}, false
	}
	row, binding, ok := p.formRequest(w, r)
	if !ok {
		return formPage{}, false
	}
	fp := formPage{row: row, binding: binding, d: p.base(r, row, binding, title), target: origin(row.RedirectURI)}
	if prepare != nil && !prepare(&fp) {
		return formPage{}, false
	}
	if r.Method == http.MethodGet {
		p.render(w, http.StatusOK, tmpl, fp.d, fp.target)
		return formPage{}, false
	}
	return fp, true
}

// formRequest checks a page's form: the request must be open for this
// browser and the CSRF token must match.
func (p *pages) formRequest(w http.ResponseWriter, r *http.Request) (authRequestRow, string, bool) {
	r.Body = http.MaxBytesReader(w, r.Body, maxPageForm)
	binding := cookieValue(r.Header, cookieBinding)
	id := r.URL.Query().Get("ar")
	if r.Method == http.MethodPost {
		if err := r.ParseForm(); err != nil {
			p.message(w, r, http.StatusBadRequest, langOf(r, ""), "error_title", pageTexts[langOf(r, "")]["expired"])
			return authRequestRow{}, "", false
		}
		id = r.PostForm.Get("ar")
	}
	row, err := p.svc.openAuthRequest(r.Context(), id, binding)
	if err == nil && r.Method == http.MethodPost && !macEqual(r.PostForm.Get("csrf"), p.csrfToken(row.ID, binding)) {
		err = errAuthRequestClosed
	}
	if err != nil {
		lang := langOf(r, "")
		if !errors.Is(err, errAuthRequestClosed) {
			p.svc.Logger.ErrorContext(r.Context(), "auth: sign-in page", slog.String("error", err.Error()))
		}
		p.message(w, r, http.StatusBadRequest, lang, "error_title", pageTexts[lang]["expired"])
		return authRequestRow{}, "", false
	}
	return row, binding, true
}

// signIn is the national ID and password page.
func (p *pages) signIn(w http.ResponseWriter, r *http.Request) {
	fp, ok := p.openForm(w, r, "sign_in_title", "signin.html", func(fp *formPage) bool {
		if r.Method == http.MethodGet && r.URL.Query().Get("done") == flowReset {
			fp.d.Notice = fp.d.T["reset_done"]
		}
		return true
	})
	if !ok {
		return
	}
	row, binding, d, target := fp.row, fp.binding, fp.d, fp.target
	res, err := p.svc.signIn(r.Context(), row.ID, binding, r.PostForm.Get("national_id"), r.PostForm.Get("password"), sourceOf(r.Header, r.RemoteAddr))
	if res.SSOToken != "" {
		http.SetCookie(w, p.svc.cookie(cookieSSO, res.SSOToken, p.svc.cfg.SSOAbsoluteTTL))
	}
	switch {
	case err == nil && res.NeedCode:
		http.Redirect(w, r, pathCode+"?ar="+url.QueryEscape(row.ID)+"&lang="+d.Lang, http.StatusSeeOther)
	case err == nil:
		http.Redirect(w, r, res.RedirectURL, http.StatusSeeOther)
	default:
		p.signInFailed(w, r, d, target, err)
	}
}

// signInFailed shows why a sign-in failed.
func (p *pages) signInFailed(w http.ResponseWriter, r *http.Request, d pageData, target string, err error) {
	t := pageTexts[d.Lang]
	var (
		retry *RetryError
		fe    *rpcerr.FieldError
	)
	switch {
	case errors.Is(err, ErrInvalidCredentials):
		d.Error = t["wrong_credentials"]
		p.render(w, http.StatusUnauthorized, "signin.html", d, target)
	case errors.As(err, &fe) && fe.Field == "national_id":
		d.Error = t["bad_national_id"]
		p.render(w, http.StatusBadRequest, "signin.html", d, target)
	case errors.As(err, &retry) && isSMSLimit(retry):
		p.message(w, r, http.StatusTooManyRequests, d.Lang, "codes_title", fmt.Sprintf(t["sms_wait"], waitSeconds(retry.After)))
	case errors.As(err, &retry) && retry.Msg == msgTOTPLimit:
		w.Header().Set("Retry-After", fmt.Sprint(waitSeconds(retry.After)))
		p.message(w, r, http.StatusTooManyRequests, d.Lang, "codes_title", fmt.Sprintf(t["totp_wait"], int(math.Ceil(retry.After.Minutes()))))
	case errors.As(err, &retry) && retry.After > time.Minute:
		w.Header().Set("Retry-After", fmt.Sprint(waitSeconds(retry.After)))
		p.message(w, r, http.StatusTooManyRequests, d.Lang, "locked_title", fmt.Sprintf(t["locked"], int(math.Ceil(retry.After.Minutes()))))
	case errors.As(err, &retry):
		w.Header().Set("Retry-After", fmt.Sprint(waitSeconds(retry.After)))
		d.Error = fmt.Sprintf(t["wait"], waitSeconds(retry.After))
		p.render(w, http.StatusTooManyRequests, "signin.html", d, target)
	case errors.Is(err, ErrPhoneNotVerified):
		p.message(w, r, http.StatusConflict, d.Lang, "error_title", t["phone"])
	case errors.Is(err, errAuthRequestClosed):
		p.message(w, r, http.StatusBadRequest, d.Lang, "error_title", t["expired"])
	default:
		p.svc.Logger.ErrorContext(r.Context(), "auth: sign-in failed", slog.String("error", err.Error()))
		p.message(w, r, http.StatusInternalServerError, d.Lang, "error_title", t["server"])
	}
}

// isSMSLimit reports whether a refusal is otp.go's SMS cool-down or
// hourly cap (not a login lockout).
func isSMSLimit(e *RetryError) bool {
	return strings.HasPrefix(e.Msg, "a code was sent") || strings.HasPrefix(e.Msg, "too many codes")
}

// waitSeconds rounds a wait up to whole seconds.
func waitSeconds(d time.Duration) int { return int(math.Ceil(d.Seconds())) }

// code is the SMS code page of a loa2 request.
func (p *pages) code(w http.ResponseWriter, r *http.Request) {
	fp, ok := p.openForm(w, r, "code_title", "code.html", func(fp *formPage) bool {
		if fp.row.OTPChallengeID == "" {
			p.message(w, r, http.StatusBadRequest, fp.d.Lang, "error_title", fp.d.T["expired"])
			return false
		}
		p.stepUpMethod(r, fp.row, &fp.d)
		return true
	})
	if !ok {
		return
	}
	row, binding, d, target := fp.row, fp.binding, fp.d, fp.target
	next, err := p.svc.verifyCode(r.Context(), row.ID, binding, r.PostForm.Get("code"), cookieValue(r.Header, cookieSSO))
	t := pageTexts[d.Lang]
	var fe *rpcerr.FieldError
	switch {
	case err == nil:
		http.Redirect(w, r, next, http.StatusSeeOther)
	case errors.Is(err, ErrChallengeClosed) || errors.As(err, &fe) && strings.Contains(fe.Reason, "no tries left"):
		d.Error = t["codes"]
		p.render(w, http.StatusTooManyRequests, "code.html", d, target)
	case errors.As(err, &fe) && strings.Contains(fe.Reason, "already used"):
		d.Error = t["code_used"]
		p.render(w, http.StatusUnauthorized, "code.html", d, target)
	case errors.As(err, &fe):
		d.Error = t["wrong_code"]
		var left int
		if _, scanErr := fmt.Sscanf(fe.Reason, "is not correct; %d tries left", &left); scanErr == nil {
			d.Error = fmt.Sprintf(t["code_tries"], left)
		}
		p.render(w, http.StatusUnauthorized, "code.html", d, target)
	default:
		p.signInFailed(w, r, d, target, err)
	}
}

// stepUpMethod fills the step-up page for its challenge: the
// authenticator app's prompt, or the SMS text and resend countdown; and
// the other method when the citizen has both (SMS with a verified phone,
// the app once enrolled).
func (p *pages) stepUpMethod(r *http.Request, row authRequestRow, d *pageData) {
	ch, err := selectChallenge(r.Context(), p.svc.DB, row.OTPChallengeID)
	if err != nil {
		return
	}
	d.Method = ch.Method
	c, err := selectCitizen(r.Context(), p.svc.DB, row.CitizenID)
	if err != nil {
		return
	}
	if ch.Method == MethodTOTP {
		d.CodeText = d.T["totp_prompt"]
		if c.PhoneVerified {
			d.AltMethod, d.AltText = MethodSMS, d.T["use_sms"]
		}
		return
	}
	p.countdown(d, ch.CreatedAt)
	if c.TOTPEnabled {
		d.AltMethod, d.AltText = MethodTOTP, d.T["use_totp"]
	}
}

// resend sends a new SMS code (cool-down and hourly cap of otp.go), or
// switches the step-up between SMS and the authenticator app (method).
func (p *pages) resend(w http.ResponseWriter, r *http.Request) {
	row, binding, ok := p.formRequest(w, r)
	if !ok {
		return
	}
	flow := r.PostForm.Get("flow")
	if flow == flowSignup || flow == flowReset {
		p.resendFlow(w, r, row, binding, flow)
		return
	}
	d := p.base(r, row, binding, "code_title")
	err := p.svc.resendCode(r.Context(), row.ID, binding, r.PostForm.Get("method"))
	var retry *RetryError
	switch {
	case err == nil:
		http.Redirect(w, r, pathCode+"?ar="+url.QueryEscape(row.ID)+"&lang="+d.Lang, http.StatusSeeOther)
	case errors.As(err, &retry) && isSMSLimit(retry):
		// The request's challenge is unchanged: show its page again.
		p.stepUpMethod(r, row, &d)
		w.Header().Set("Retry-After", fmt.Sprint(waitSeconds(retry.After)))
		d.Error = fmt.Sprintf(d.T["sms_wait"], waitSeconds(retry.After))
		if d.Method == MethodSMS {
			p.countdown(&d, p.svc.Now().Add(retry.After-p.svc.cfg.SMSResendCooldown))
		}
		p.render(w, http.StatusTooManyRequests, "code.html", d, origin(row.RedirectURI))
	default:
		p.signInFailed(w, r, d, origin(row.RedirectURI), err)
	}
}

// signedOut is where logout ends without a registered return address.
func (p *pages) signedOut(w http.ResponseWriter, r *http.Request) {
	lang := langOf(r, "")
	p.message(w, r, http.StatusOK, lang, "signed_out_title", pageTexts[lang]["signed_out"])
}

// cssETag is the stylesheet's validator.
var cssETag = fmt.Sprintf(`"%x"`, sha256.Sum256(pageCSS))

// css serves the pages' one stylesheet.
func (p *pages) css(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=86400")
	w.Header().Set("ETag", cssETag)
	_, _ = w.Write(pageCSS)
}

// Paths of the account creation and password reset pages.
const (
	pathSignUp     = "/oauth2/login/register"
	pathSignUpCode = "/oauth2/login/register/code"
	pathReset      = "/oauth2/login/reset"
	pathResetCode  = "/oauth2/login/reset/code"
)

// routeRecovery adds the account creation and password reset pages.
func (p *pages) routeRecovery(mux *http.ServeMux) {
	mux.HandleFunc(pathSignUp, p.signUp)
	mux.HandleFunc(pathSignUpCode, p.signUpCode)
	mux.HandleFunc(pathReset, p.reset)
	mux.HandleFunc(pathResetCode, p.resetCode)
}

// pageZone is the zone of the countdown's clock time: the citizens'.
var pageZone = func() *time.Location {
	if loc, err := time.LoadLocation("Asia/Hebron"); err == nil {
		return loc
	}
	return time.UTC
}()

// countdown fills the resend countdown of a code page whose last code
// went out at sentAt: the button is disabled, and the page says at what
// time (and in how many seconds) it works, without JavaScript.
func (p *pages) countdown(d *pageData, sentAt time.Time) {
	now := p.svc.Now()
	at := p.svc.resendAt(sentAt)
	if !at.After(now) {
		return
	}
	d.ResendIn = waitSeconds(at.Sub(now))
	d.ResendText = fmt.Sprintf(d.T["resend_at"], at.In(pageZone).Format("15:04:05"), d.ResendIn)
}

// allowMethods answers anything but GET and POST with 405.
func allowMethods(w http.ResponseWriter, r *http.Request) bool {
	if r.Method == http.MethodGet || r.Method == http.MethodPost {
		return true
	}
	w.Header().Set("Allow", "GET, POST")
	http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	return false
}

// fieldErrors puts the FieldErrors in err (one, or joined) on their
// inputs, in the page's language; false when err holds none.
func fieldErrors(d *pageData, err error) bool {
	var all []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		all = j.Unwrap()
	} else {
		all = []error{err}
	}
	found := false
	for _, e := range all {
		var fe *rpcerr.FieldError
		if !errors.As(e, &fe) {
			continue
		}
		text, ok := d.T["err_"+fe.Field]
		if !ok {
			continue
		}
		if d.Fields == nil {
			d.Fields = map[string]string{}
		}
		d.Fields[fe.Field], found = text, true
	}
	return found
}

// flowURL is a flow page of the request in the page's language.
func flowURL(path string, row authRequestRow, lang string) string {
	return path + "?ar=" + url.QueryEscape(row.ID) + "&lang=" + lang
}

// signUp is the account creation form: national ID, mobile phone, names
// and password (RegisterCitizen), then the phone's SMS code.
func (p *pages) signUp(w http.ResponseWriter, r *http.Request) {
	fp, ok := p.openForm(w, r, "signup_title", "signup.html", nil)
	if !ok {
		return
	}
	row, binding, d, target := fp.row, fp.binding, fp.d, fp.target
	f := r.PostForm
	reg := Registration{NationalID: f.Get("national_id"), PhoneNumber: f.Get("phone_number"), Password: f.Get("password"),
		GivenName: f.Get("given_name"), FamilyName: f.Get("family_name"), PreferredLanguage: d.Lang}
	d.Values = map[string]string{"national_id": reg.NationalID, "phone_number": f.Get("phone_number"), "given_name": reg.GivenName, "family_name": reg.FamilyName}
	err := p.svc.startSignup(r.Context(), row.ID, binding, reg)
	var retry *RetryError
	switch {
	case err == nil:
		http.Redirect(w, r, flowURL(pathSignUpCode, row, d.Lang), http.StatusSeeOther)
	case errors.As(err, &retry):
		w.Header().Set("Retry-After", fmt.Sprint(waitSeconds(retry.After)))
		d.Error = fmt.Sprintf(d.T["sms_wait"], waitSeconds(retry.After))
		p.render(w, http.StatusTooManyRequests, "signup.html", d, target)
	case fieldErrors(&d, err):
		p.render(w, http.StatusBadRequest, "signup.html", d, target)
	default:
		p.signInFailed(w, r, d, target, err)
	}
}

// flowCodePage prepares fp as a sign-up or reset code page; false when
// the flow is not open (an error page was written).
func (p *pages) flowCodePage(w http.ResponseWriter, r *http.Request, fp *formPage, kind string) bool {
	row, d := fp.row, &fp.d
	f, err := p.svc.flowOf(r.Context(), row, kind)
	if err != nil {
		p.signInFailed(w, r, *d, fp.target, err)
		return false
	}
	d.Flow = kind
	if kind == flowReset {
		d.CodeAction, d.CodeText, d.NewPassword = flowURL(pathResetCode, row, d.Lang), d.T["reset_code_sent"], true
	} else {
		d.CodeAction, d.CodeText = flowURL(pathSignUpCode, row, d.Lang), d.T["phone_code_sent"]
	}
	p.countdown(d, f.SentAt)
	return true
}

// codeError shows a wrong or spent code on a code page.
func (p *pages) codeError(w http.ResponseWriter, d pageData, target string, err error) bool {
	var fe *rpcerr.FieldError
	switch {
	case errors.Is(err, ErrChallengeClosed) || errors.Is(err, ErrChallengeNotFound) || err == error(errResetFailed) ||
		errors.As(err, &fe) && strings.Contains(fe.Reason, "no tries left"):
		d.Error = d.T["codes"]
		if d.Flow == flowReset {
			d.Error = d.T["reset_failed"]
		}
		p.render(w, http.StatusTooManyRequests, "code.html", d, target)
	case errors.As(err, &fe) && fe.Field == "password":
		d.Fields = map[string]string{"password": d.T["err_password"]}
		p.render(w, http.StatusBadRequest, "code.html", d, target)
	case errors.As(err, &fe) && fe.Field == "code":
		d.Error = d.T["wrong_code"]
		var left int
		if _, scanErr := fmt.Sscanf(fe.Reason, "is not correct; %d tries left", &left); scanErr == nil {
			d.Error = fmt.Sprintf(d.T["code_tries"], left)
		}
		p.render(w, http.StatusUnauthorized, "code.html", d, target)
	default:
		return false
	}
	return true
}

// signUpCode is the new account's phone verification; a right code signs
// the citizen in and answers the authorization request.
func (p *pages) signUpCode(w http.ResponseWriter, r *http.Request) {
	fp, ok := p.openForm(w, r, "code_title", "code.html", func(fp *formPage) bool { return p.flowCodePage(w, r, fp, flowSignup) })
	if !ok {
		return
	}
	row, binding, d, target := fp.row, fp.binding, fp.d, fp.target
	res, err := p.svc.finishSignup(r.Context(), row.ID, binding, r.PostForm.Get("code"))
	if res.SSOToken != "" {
		http.SetCookie(w, p.svc.cookie(cookieSSO, res.SSOToken, p.svc.cfg.SSOAbsoluteTTL))
	}
	switch {
	case err == nil:
		http.Redirect(w, r, res.RedirectURL, http.StatusSeeOther)
	case p.codeError(w, d, target, err):
	default:
		p.signInFailed(w, r, d, target, err)
	}
}

// reset asks for the national ID of a forgotten password.
func (p *pages) reset(w http.ResponseWriter, r *http.Request) {
	fp, ok := p.openForm(w, r, "reset_title", "reset.html", nil)
	if !ok {
		return
	}
	row, binding, d, target := fp.row, fp.binding, fp.d, fp.target
	nid := r.PostForm.Get("national_id")
	err := p.svc.startReset(r.Context(), row.ID, binding, nid)
	switch {
	case err == nil:
		http.Redirect(w, r, flowURL(pathResetCode, row, d.Lang), http.StatusSeeOther)
	case fieldErrors(&d, err):
		d.Values = map[string]string{"national_id": nid}
		p.render(w, http.StatusBadRequest, "reset.html", d, target)
	default:
		p.signInFailed(w, r, d, target, err)
	}
}

// resetCode takes the reset's SMS code and the new password; success
// leads back to the sign-in form of the same request.
func (p *pages) resetCode(w http.ResponseWriter, r *http.Request) {
	fp, ok := p.openForm(w, r, "reset_title", "code.html", func(fp *formPage) bool { return p.flowCodePage(w, r, fp, flowReset) })
	if !ok {
		return
	}
	row, binding, d, target := fp.row, fp.binding, fp.d, fp.target
	err := p.svc.finishReset(r.Context(), row.ID, binding, r.PostForm.Get("code"), r.PostForm.Get("password"))
	switch {
	case err == nil:
		http.Redirect(w, r, flowURL(pathLogin, row, d.Lang)+"&done="+flowReset, http.StatusSeeOther)
	case p.codeError(w, d, target, err):
	default:
		p.signInFailed(w, r, d, target, err)
	}
}

// resendFlow sends a new code for a sign-up or a reset once the
// cool-down has passed.
func (p *pages) resendFlow(w http.ResponseWriter, r *http.Request, row authRequestRow, binding, kind string) {
	title := "code_title"
	if kind == flowReset {
		title = "reset_title"
	}
	fp := formPage{row: row, binding: binding, d: p.base(r, row, binding, title), target: origin(row.RedirectURI)}
	d, target := &fp.d, fp.target
	err := p.svc.resendFlowCode(r.Context(), row.ID, binding, kind)
	var retry *RetryError
	switch {
	case err == nil:
		path := pathSignUpCode
		if kind == flowReset {
			path = pathResetCode
		}
		http.Redirect(w, r, flowURL(path, row, d.Lang), http.StatusSeeOther)
	case errors.As(err, &retry):
		if !p.flowCodePage(w, r, &fp, kind) {
			return
		}
		w.Header().Set("Retry-After", fmt.Sprint(waitSeconds(retry.After)))
		d.Error = fmt.Sprintf(d.T["sms_wait"], waitSeconds(retry.After))
		p.render(w, http.StatusTooManyRequests, "code.html", *d, target)
	default:
		p.signInFailed(w, r, *d, target, err)
	}
}
