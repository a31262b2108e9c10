// Package alerts owns the documents of detections and the alerts webhook's body. A Signal is one rule firing on
// one IP in one closed window (detect.Alert, with the window's revision and the episode it belongs to); an Episode
// is the alert a person is paged about: the signals of one rule and IP in consecutive windows, summarised. Both
// are written to <prefix>-alerts-* in the fields of schema.Alerts, and read back the same way, so that the
// finalizer can reconcile a window's signals with what an earlier revision raised.
//
// The package is pure: internal/finalize searches and writes; this package only encodes, decodes and summarises.
package alerts
