// Package threat owns threat-intelligence indicator lists of IP addresses and CIDR blocks and matching them
// against the addresses of flows: it parses the lists (plain text, Spamhaus DROP style and CSV with a header),
// merges several named lists into one Set whose Match finds the most specific indicator for an address without
// allocating, and keeps that Set fresh with a Reloader that re-reads changed sources (files, or any loader such as
// an S3 object the caller fetches) and swaps the new Set in atomically, so lookups never wait on a reload.
//
// It does not know where flows come from, what a match means for an alert, nor how to talk to AWS: the caller
// asks Match for the source and destination of each flow and decides.
//
// A bad line in a list is reported as a BadLine (line number, text, Reason) and skipped; it never fails the list.
// Errors for whole lists and sources are *Error values with a Reason that says whether a retry can help.
package threat
