// E-mail delivery port: SMTP through libcurl for real mail servers, the log for `make run`.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "platform/clock.h"
#include "platform/result.h"

namespace recur::notify {

// A file sent with an e-mail: a part of its own, base64, Content-Disposition: attachment.
struct EmailAttachment {
  std::string filename;  // [A-Za-z0-9._-] (others are dropped from the header)
  std::string content_type;  // "application/pdf"
  std::string bytes;
};

struct Email {
  std::string id;  // the notification's id: the Message-ID is <id@from-domain> on every try
  std::string to;
  std::string subject;
  std::string text;
  std::string html;
  // Update-payment tokens in the bodies: sent, but never written to a log.
  std::vector<std::string> secrets;
  std::string template_name;  // what a log line may say about the message, with its id
  std::vector<EmailAttachment> attachments;
};

class EmailSender {
 public:
  virtual ~EmailSender() = default;
  // An error of kind kInvalid means the server refused the message for good (no retry);
  // any other error is worth retrying.
  virtual Status send(const Email& email) = 0;
};

struct SmtpOptions {
  std::string url;   // smtp://host:port (smtps:// for TLS on connect); user:password@ works too
  std::string from = "Recur <recur@localhost>";  // or a bare address
  std::string username;
  std::string password;
  bool starttls = false;  // require STARTTLS on smtp://
  std::chrono::milliseconds timeout{30000};
  std::chrono::milliseconds connect_timeout{5000};
};

class SmtpEmailSender final : public EmailSender {
 public:
  SmtpEmailSender(SmtpOptions options, const Clock& clock) : options_(std::move(options)), clock_(clock) {}
  Status send(const Email& email) override;

 private:
  SmtpOptions options_;
  const Clock& clock_;
};

// Logs that a message was not sent, instead of sending it: the default without --smtp-url.
// Personal data stays out of the log: one line with the id, the template and a masked
// recipient (see mask_email), never the subject or the body.
class LogEmailSender final : public EmailSender {
 public:
  Status send(const Email& email) override;
};

// The whole RFC 5322 message: Date, Message-ID, From, To, Subject, then a
// multipart/alternative body with the text and HTML parts in base64 (any line length, any
// UTF-8); with attachments, a multipart/mixed body holding that alternative part first and
// then each file, base64 with Content-Disposition: attachment. Lines end in CRLF.
std::string mime_message(const Email& email, std::string_view from, Timestamp date);
// "Thu, 05 Feb 2026 10:00:00 +0000"
std::string rfc5322_date(Timestamp t);
// "Recur <billing@example.com>" -> "billing@example.com"; a bare address as it is.
std::string address_of(std::string_view from);
// Base64 (RFC 4648, with padding), optionally broken into lines of `line` characters by CRLF.
std::string base64(std::string_view bytes, std::size_t line = 0);

}  // namespace recur::notify
