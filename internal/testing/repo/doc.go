// Package repo holds tests of the repository as a whole: that the README's layout names every package of both
// modules, and nothing else.
package repo
