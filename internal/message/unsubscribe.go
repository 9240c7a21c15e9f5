package message

import (
	"slices"
	"strings"

	"github.com/emersion/go-msgauth/authres"
)

// unsubscribe checks, for bulk mail (a List-Unsubscribe field, or
// Precedence: bulk or list), the one-click unsubscribe of RFC 8058.
func (s *state) unsubscribe() {
	prec := strings.ToLower(unfold(s.hdr.Get("Precedence")))
	if !s.hdr.Has("List-Unsubscribe") && prec != "bulk" && prec != "list" {
		return
	}
	var missing []string
	if !httpsURI(unfold(s.hdr.Get("List-Unsubscribe"))) {
		missing = append(missing, "a List-Unsubscribe field with an https URI")
	}
	if !strings.EqualFold(unfold(s.hdr.Get("List-Unsubscribe-Post")), "List-Unsubscribe=One-Click") {
		missing = append(missing, "List-Unsubscribe-Post: List-Unsubscribe=One-Click")
	}
	if !s.signedBoth() {
		missing = append(missing, "a valid DKIM signature whose h= covers List-Unsubscribe and List-Unsubscribe-Post")
	}
	if len(missing) > 0 {
		s.add(SpecUnsubOneClick.New("This is bulk mail without one-click unsubscribe: it lacks %s.", strings.Join(missing, "; ")).
			WithFix("Add \"List-Unsubscribe: <https://...>\" and \"List-Unsubscribe-Post: List-Unsubscribe=One-Click\" and sign both with DKIM (RFC 8058)."))
		return
	}
	s.add(SpecUnsubOK.New("Bulk mail with one-click unsubscribe: an https List-Unsubscribe URI and List-Unsubscribe-Post, both DKIM-signed."))
}

// httpsURI reports whether a List-Unsubscribe value holds <https://...>.
func httpsURI(v string) bool {
	for _, part := range strings.Split(v, ",") {
		p := strings.TrimSpace(part)
		if strings.HasPrefix(p, "<") && strings.HasSuffix(p, ">") && strings.HasPrefix(strings.ToLower(p[1:]), "https://") {
			return true
		}
	}
	return false
}

// signedBoth reports a passing signature covering both fields.
func (s *state) signedBoth() bool {
	for _, d := range s.dkims {
		if d.value == authres.ResultPass && slices.Contains(d.headers, "list-unsubscribe") && slices.Contains(d.headers, "list-unsubscribe-post") {
			return true
		}
	}
	return false
}
