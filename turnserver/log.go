package turnserver

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/pion/logging"
)

// levelTrace is below slog's debug level, for pion's trace messages.
const levelTrace = slog.LevelDebug - 4

// pionLogs adapts slog to pion's LoggerFactory. pion logs some per-packet
// events (a datagram from a peer without permission) at info level, so its
// info becomes debug here: a stranger spraying a relay port must not fill
// the logs.
type pionLogs struct {
	log *slog.Logger
}

func (f pionLogs) NewLogger(scope string) logging.LeveledLogger {
	return pionLogger{log: f.log.With("scope", "pion/"+scope)}
}

type pionLogger struct {
	log *slog.Logger
}

func (l pionLogger) emit(level slog.Level, msg string) {
	l.log.Log(context.Background(), level, msg)
}

func (l pionLogger) emitf(level slog.Level, format string, args ...any) {
	if l.log.Enabled(context.Background(), level) {
		l.log.Log(context.Background(), level, fmt.Sprintf(format, args...))
	}
}

func (l pionLogger) Trace(msg string)                  { l.emit(levelTrace, msg) }
func (l pionLogger) Tracef(format string, args ...any) { l.emitf(levelTrace, format, args...) }
func (l pionLogger) Debug(msg string)                  { l.emit(slog.LevelDebug, msg) }
func (l pionLogger) Debugf(format string, args ...any) { l.emitf(slog.LevelDebug, format, args...) }
func (l pionLogger) Info(msg string)                   { l.emit(slog.LevelDebug, msg) }
func (l pionLogger) Infof(format string, args ...any)  { l.emitf(slog.LevelDebug, format, args...) }
func (l pionLogger) Warn(msg string)                   { l.emit(slog.LevelWarn, msg) }
func (l pionLogger) Warnf(format string, args ...any)  { l.emitf(slog.LevelWarn, format, args...) }
func (l pionLogger) Error(msg string)                  { l.emit(slog.LevelError, msg) }
func (l pionLogger) Errorf(format string, args ...any) { l.emitf(slog.LevelError, format, args...) }
