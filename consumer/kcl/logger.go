package kcl

import (
	"fmt"
	"log/slog"
	"os"

	kcllog "github.com/vmware/vmware-go-kcl-v2/logger"
)

// kclLogger routes the KCL library's logging to slog.
type kclLogger struct{ l *slog.Logger }

var _ kcllog.Logger = kclLogger{}

func (k kclLogger) Debugf(f string, a ...any) { k.l.Debug(fmt.Sprintf(f, a...)) }
func (k kclLogger) Infof(f string, a ...any)  { k.l.Debug(fmt.Sprintf(f, a...)) } // the library is chatty
func (k kclLogger) Warnf(f string, a ...any)  { k.l.Warn(fmt.Sprintf(f, a...)) }
func (k kclLogger) Errorf(f string, a ...any) { k.l.Error(fmt.Sprintf(f, a...)) }

// Fatalf and Panicf keep the library's expectation that they do not return.
func (k kclLogger) Fatalf(f string, a ...any) { k.l.Error(fmt.Sprintf(f, a...)); os.Exit(1) }
func (k kclLogger) Panicf(f string, a ...any) {
	msg := fmt.Sprintf(f, a...)
	k.l.Error(msg)
	panic(msg)
}

func (k kclLogger) WithFields(fields kcllog.Fields) kcllog.Logger {
	args := make([]any, 0, 2*len(fields))
	for key, v := range fields {
		args = append(args, key, v)
	}
	return kclLogger{k.l.With(args...)}
}
