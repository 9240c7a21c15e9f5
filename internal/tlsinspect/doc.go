// Package tlsinspect describes and judges what a TLS handshake showed, for
// any protocol that speaks TLS (SMTP STARTTLS and implicit TLS today):
// the negotiated version and cipher (RFC 8996 retires TLS 1.0 and 1.1,
// RFC 9325 gives the current recommendations), the presented chain
// verified against trust roots (RFC 5280) and the leaf checked against
// the host name (RFC 6125).
//
// The handshake never verifies (ClientConfig), so that a bad certificate
// can still be described; Inspect computes the verdicts afterwards. Each
// described certificate also keeps, bounded and out of the JSON reports,
// its DER and the digests DANE TLSA records are matched against
// (RFC 6698 §2.1: Cert.Digest).
package tlsinspect
