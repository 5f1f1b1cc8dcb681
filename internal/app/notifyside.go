package app

import (
	"fmt"

	"github.com/commerce-engine/commerce/commands"
	"github.com/commerce-engine/commerce/notify"
)

// notifierConsumer is the notifier's durable identity on the bus.
const notifierConsumer = "notifier"

// newNotifier sends over SMTP when SMTPURL is set and to the log
// otherwise, recording every delivery in log.
func (m *Main) newNotifier(ws *writeSide, log notify.Log) (*notify.Notifier, error) {
	var sender notify.Sender = notify.LogSender{Logger: m.log}
	if m.cfg.SMTPURL != "" {
		s, err := notify.NewSMTPSender(m.cfg.SMTPURL, m.cfg.MailFrom)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", m.setting("SMTPURL"), err)
		}
		sender = s
	}
	n, err := notify.New(notify.Config{
		Sender: sender, Log: log, Directory: commands.Recipients{Runner: ws.api.Runner, Unknown: notify.ErrUnknownRecipient}, Codec: ws.api.Runner.Codec,
		OpenToken: ws.sealer.Open, BaseURL: m.cfg.PublicURL, Logger: m.log,
	})
	if err != nil {
		return nil, fmt.Errorf("notifier: %w", err)
	}
	return n, nil
}
