// Package settings is the settings registry: one row per setting (environment name, flag, CDK context key, type,
// default, meaning, secret, runtimes), from which the configuration, the flags and the README's tables are made.
package settings
