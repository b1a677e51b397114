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

	"github.com/tamkeen/tamkeen/libs/rpcerr"
)

// The hosted sign-in pages of the authorization code flow: server-rendered
// (html/template, embedded), no JavaScript, no CDN, one column, Arabic and
// right-to-left by default, English by ui_locales=en or the switch link.
// Every form carries a CSRF token tied to the authorization request and
// the browser's binding cookie, which the request's row also holds.

//go:embed pages/*.html pages/pages.css
var pageFiles embed.FS

var pageTemplates = template.Must(template.ParseFS(pageFiles, "pages/*.html"))

var pageCSS, _ = pageFiles.ReadFile("pages/pages.css")

// maxPageForm bounds a page's form body.
const maxPageForm = 8 << 10

// pageTexts are the pages' words, by language.
var pageTexts = map[string]map[string]string{
	"ar": {
		"brand": "تمكين", "asking": "يطلب تسجيل دخولك:", "sign_in_title": "تسجيل الدخول", "national_id": "رقم الهوية",
		"password": "كلمة المرور", "sign_in": "دخول", "code_title": "رمز التحقق",
		"code_sent": "أرسلنا رمزاً من 6 أرقام برسالة قصيرة إلى هاتفك المسجل.", "code": "الرمز", "verify": "تحقق",
		"resend": "أرسل رمزاً جديداً", "switch": "English",
		"wrong_credentials": "رقم الهوية أو كلمة المرور غير صحيحة.",
		"bad_national_id":   "رقم الهوية غير صالح: تسعة أرقام.",
		"locked_title":      "تم إيقاف الدخول مؤقتاً", "locked": "محاولات كثيرة غير ناجحة. حاول مجدداً بعد %d دقيقة.",
		"wait": "انتظر %d ثانية ثم حاول مجدداً.", "wrong_code": "الرمز غير صحيح.", "code_tries": "الرمز غير صحيح. بقيت %d محاولات.",
		"codes_title": "محاولات كثيرة للرمز", "codes": "انتهت صلاحية الرمز أو نفدت محاولاته. اطلب رمزاً جديداً.",
		"sms_wait":    "أُرسل رمز قبل قليل أو أُرسلت رموز كثيرة. انتظر %d ثانية قبل طلب رمز جديد.",
		"error_title": "تعذر تسجيل الدخول", "unknown_client": "هذا التطبيق غير مسجل في تمكين.",
		"bad_redirect": "عنوان العودة الذي أرسله التطبيق غير مسجل له، فلن نعيدك إليه.",
		"expired":      "انتهت صلاحية طلب تسجيل الدخول أو فُتح في متصفح آخر. عد إلى التطبيق وابدأ من جديد.",
		"phone":        "رقم هاتفك غير مؤكد بعد، فلا يمكن إرسال الرمز.", "server": "حدث خطأ لدينا. حاول مجدداً بعد قليل.",
		"signed_out_title": "خرجت من حسابك", "signed_out": "انتهت جلستك في جميع تطبيقات الوزارات.",
	},
	"en": {
		"brand": "Tamkeen", "asking": "Signing you in for:", "sign_in_title": "Sign in", "national_id": "National ID number",
		"password": "Password", "sign_in": "Sign in", "code_title": "Verification code",
		"code_sent": "We sent a 6-digit code by SMS to your registered phone.", "code": "Code", "verify": "Verify",
		"resend": "Send a new code", "switch": "العربية",
		"wrong_credentials": "The national ID number or the password is incorrect.",
		"bad_national_id":   "The national ID number is not valid: nine digits.",
		"locked_title":      "Sign-in paused", "locked": "Too many failed attempts. Try again in %d minutes.",
		"wait": "Wait %d seconds, then try again.", "wrong_code": "The code is incorrect.", "code_tries": "The code is incorrect. %d tries left.",
		"codes_title": "Too many code attempts", "codes": "The code has expired or has had its tries. Ask for a new code.",
		"sms_wait":    "A code was sent a moment ago, or too many were sent. Wait %d seconds before asking for another.",
		"error_title": "Sign-in is not possible", "unknown_client": "This application is not registered with Tamkeen.",
		"bad_redirect": "The return address the application sent is not registered for it, so we will not send you there.",
		"expired":      "This sign-in request has expired or was opened in another browser. Go back to the application and start again.",
		"phone":        "Your phone number is not verified yet, so no code can be sent.", "server": "Something went wrong on our side. Try again shortly.",
		"signed_out_title": "You are signed out", "signed_out": "Your session has ended in every ministry application.",
	},
}

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
	d := pageData{Lang: lang, Title: pageTexts[lang][title], RequestID: row.ID, CSRF: p.csrfToken(row.ID, binding)}
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
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	row, binding, ok := p.formRequest(w, r)
	if !ok {
		return
	}
	d := p.base(r, row, binding, "sign_in_title")
	target := origin(row.RedirectURI)
	if r.Method == http.MethodGet {
		p.render(w, http.StatusOK, "signin.html", d, target)
		return
	}
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
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	row, binding, ok := p.formRequest(w, r)
	if !ok {
		return
	}
	d := p.base(r, row, binding, "code_title")
	target := origin(row.RedirectURI)
	if row.OTPChallengeID == "" {
		p.message(w, r, http.StatusBadRequest, d.Lang, "error_title", d.T["expired"])
		return
	}
	if r.Method == http.MethodGet {
		p.render(w, http.StatusOK, "code.html", d, target)
		return
	}
	next, err := p.svc.verifyCode(r.Context(), row.ID, binding, r.PostForm.Get("code"), cookieValue(r.Header, cookieSSO))
	t := pageTexts[d.Lang]
	var fe *rpcerr.FieldError
	switch {
	case err == nil:
		http.Redirect(w, r, next, http.StatusSeeOther)
	case errors.Is(err, ErrChallengeClosed) || errors.As(err, &fe) && strings.Contains(fe.Reason, "no tries left"):
		d.Error = t["codes"]
		p.render(w, http.StatusTooManyRequests, "code.html", d, target)
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

// resend sends a new SMS code (cool-down and hourly cap of otp.go).
func (p *pages) resend(w http.ResponseWriter, r *http.Request) {
	row, binding, ok := p.formRequest(w, r)
	if !ok {
		return
	}
	d := p.base(r, row, binding, "code_title")
	err := p.svc.resendCode(r.Context(), row.ID, binding)
	var retry *RetryError
	switch {
	case err == nil:
		http.Redirect(w, r, pathCode+"?ar="+url.QueryEscape(row.ID)+"&lang="+d.Lang, http.StatusSeeOther)
	case errors.As(err, &retry):
		w.Header().Set("Retry-After", fmt.Sprint(waitSeconds(retry.After)))
		d.Error = fmt.Sprintf(d.T["sms_wait"], waitSeconds(retry.After))
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
