package dialogue

import "github.com/mailcheck/mailcheck/internal/sanitize"

// MaxErrText bounds the text of an error a session keeps (it may quote
// what the peer sent).
const MaxErrText = 600

// cleanErr is an error whose text has been made safe to print; it still
// unwraps to the original.
type cleanErr struct {
	err  error
	text string
}

func (e cleanErr) Error() string { return e.text }
func (e cleanErr) Unwrap() error { return e.err }

// CleanError bounds err's text to MaxErrText and escapes any control
// byte in it; errors.Is and As still see the original. Nil stays nil.
func CleanError(err error) error {
	if err == nil {
		return nil
	}
	s := err.Error()
	if sanitize.IsClean(s) && len(s) <= MaxErrText {
		return err
	}
	return cleanErr{err: err, text: sanitize.Line(s, MaxErrText)}
}
