package report

import (
	"encoding/json"
	"io"
)

// WriteJSON writes r as one JSON document on one line, so that several
// reports (one per domain) form a JSON Lines stream.
func WriteJSON(w io.Writer, r *Report) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(r)
}
