package message

import (
	"io"
	"strconv"
	"strings"

	gomessage "github.com/emersion/go-message"
)

// mimeWalk is a bounded walk of the MIME tree.
type mimeWalk struct {
	parts       int
	bound       string // which bound stopped the walk
	html, plain bool
	broken      []string
	noCharset   []string
	badType     []string
	buf         []byte
}

// mime walks the MIME structure with go-message and reports what is
// wrong with it (RFC 2045, RFC 2046).
func (s *state) mime(top *gomessage.Entity) {
	w := &mimeWalk{buf: make([]byte, 32<<10)}
	mimeish := s.hdr.Has("Content-Type") || s.hdr.Has("Content-Transfer-Encoding")
	if mimeish && !s.hdr.Has("Mime-Version") {
		s.add(SpecMIMEVersion.New("The message has MIME fields (Content-Type or Content-Transfer-Encoding) but no MIME-Version.").
			WithFix("Add \"MIME-Version: 1.0\" to the header."))
	}
	w.entity(top, "1", 0)
	s.data.Parts = w.parts
	s.mimeFindings(w)
}

// mimeFindings states what the walk found.
func (s *state) mimeFindings(w *mimeWalk) {
	ok := true
	if w.bound != "" {
		ok = false
		s.add(SpecMIMEBound.New("The MIME structure goes past the bound (%s); the rest was not examined.", w.bound))
	}
	for _, b := range w.broken {
		ok = false
		s.add(SpecMultipartBroken.New("%s", b).WithFix("Generate MIME with a library, not by hand: every multipart needs a boundary parameter and its closing \"--boundary--\" line."))
	}
	for _, b := range w.badType {
		ok = false
		s.add(SpecContentType.New("%s", b).WithFix("Write Content-Type as type/subtype; param=value (RFC 2045 §5.1)."))
	}
	for _, p := range w.noCharset {
		ok = false
		s.add(SpecCharsetMissing.New("%s", p).WithFix("Declare the charset of text parts, e.g. Content-Type: text/plain; charset=utf-8."))
	}
	if w.html && !w.plain {
		ok = false
		s.add(SpecHTMLOnly.New("The message has HTML but no text/plain alternative.").
			WithFix("Send multipart/alternative with a text/plain part before the text/html part."))
	}
	if ok {
		s.add(SpecMIMEOK.New("The MIME structure (%d part(s)) parsed, every text part's charset declared where needed.", w.parts))
	}
}

// entity examines one entity and, for a multipart, its parts.
func (w *mimeWalk) entity(e *gomessage.Entity, path string, depth int) {
	w.parts++
	t, params, err := e.Header.ContentType()
	if err != nil && len(w.badType) < 4 {
		w.badType = append(w.badType, "Part "+path+" has a Content-Type that does not parse: "+clean(e.Header.Get("Content-Type"))+".")
	}
	t = strings.ToLower(t)
	switch {
	case strings.HasPrefix(t, "multipart/"):
		w.multipart(e, path, depth, params["boundary"])
	case t == "text/html":
		w.html = true
		w.text(e, path, params)
	case t == "text/plain":
		w.plain = true
		w.text(e, path, params)
	case strings.HasPrefix(t, "text/"):
		w.text(e, path, params)
	}
}

// multipart walks the parts of a multipart entity.
func (w *mimeWalk) multipart(e *gomessage.Entity, path string, depth int, boundary string) {
	if depth >= MaxMIMEDepth {
		w.bound = "nesting deeper than " + itoa(MaxMIMEDepth)
		return
	}
	if boundary == "" {
		w.broken = append(w.broken, "Part "+path+" is a multipart without a boundary parameter.")
		return
	}
	mr := e.MultipartReader()
	for i := 1; w.bound == ""; i++ {
		p, err := mr.NextPart()
		if err == io.EOF {
			return
		}
		if p == nil {
			w.broken = append(w.broken, "Multipart "+path+" is broken after "+itoa(i-1)+" part(s): "+clean(err.Error())+
				" (a missing closing delimiter \"--"+clean(boundary)+"--\" reads as EOF).")
			return
		}
		if w.parts >= MaxMIMEParts {
			w.bound = "more than " + itoa(MaxMIMEParts) + " parts"
			return
		}
		w.entity(p, path+"."+itoa(i), depth+1)
	}
}

// text checks that a text part with non-ASCII octets declares a charset.
func (w *mimeWalk) text(e *gomessage.Entity, path string, params map[string]string) {
	cs := strings.ToLower(params["charset"])
	if cs != "" && cs != "us-ascii" {
		return
	}
	if w.nonASCII(e.Body) && len(w.noCharset) < 4 {
		decl := "declares no charset"
		if cs != "" {
			decl = "declares charset=us-ascii"
		}
		w.noCharset = append(w.noCharset, "Text part "+path+" has non-ASCII octets but "+decl+".")
	}
}

// nonASCII reads r (decoded) and reports an octet over 0x7F.
func (w *mimeWalk) nonASCII(r io.Reader) bool {
	for {
		n, err := r.Read(w.buf)
		for _, c := range w.buf[:n] {
			if c >= 0x80 {
				return true
			}
		}
		if err != nil {
			return false
		}
	}
}

// itoa formats a small int.
func itoa(n int) string { return strconv.Itoa(n) }
