// Package settings is the settings registry: one row per setting (environment name, derived flag, CDK context key,
// kind, default, allowed values or range, meaning, secret, runtimes), from which the configuration, the consumer's
// flags, the CDK app's context and the README's tables are made. It is data and the checks a row implies, nothing
// else: internal/config binds each row to the field it fills, kinflowstack reads its context keys through it. It
// uses the standard library only, because the CDK app, a module of its own, imports it.
package settings
