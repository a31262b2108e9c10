//go:build race

package threat

// raceEnabled reports a -race build, where memory measurements and large builds are slow and not representative.
const raceEnabled = true
