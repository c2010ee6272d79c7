// SMTP through libcurl, the MIME message it sends, and the log sender.
#include "notify/email.h"
#include "notify/model.h"

#include <curl/curl.h>
#include <sodium.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <memory>

#include <fmt/format.h>

#include "platform/base64.h"

namespace recur::notify {
namespace {

Error unavailable(std::string code, std::string message) {
  return Error::unavailable(std::move(code), std::move(message));
}

bool plain_header_text(std::string_view s) {
  return s.size() <= 200 && std::all_of(s.begin(), s.end(), [](char c) { return c >= 0x20 && c < 0x7f; });
}

// RFC 2047 encoded words of at most 45 bytes each (75 characters encoded), never splitting
// a UTF-8 sequence, folded onto continuation lines.
std::string encoded_header_text(std::string_view s) {
  if (plain_header_text(s)) return std::string(s);
  std::string out;
  while (!s.empty()) {
    std::size_t n = std::min<std::size_t>(45, s.size());
    while (n < s.size() && n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
    if (!out.empty()) out += "\r\n ";
    out += "=?UTF-8?B?" + base64(s.substr(0, n)) + "?=";
    s.remove_prefix(n);
  }
  return out;
}

std::string domain_of(std::string_view address) {
  auto at = address.rfind('@');
  return at == std::string_view::npos || at + 1 == address.size() ? "recur.local" : std::string(address.substr(at + 1));
}

std::string mime_part(std::string_view boundary, std::string_view type, std::string_view body) {
  return fmt::format("--{}\r\nContent-Type: {}; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\r\n",
                     boundary, type, base64(body, 76));
}

struct Upload {
  std::string_view rest;
};

std::size_t on_read(char* buffer, std::size_t size, std::size_t n, void* user) {
  auto* upload = static_cast<Upload*>(user);
  std::size_t len = std::min(size * n, upload->rest.size());
  std::memcpy(buffer, upload->rest.data(), len);
  upload->rest.remove_prefix(len);
  return len;
}

// 550-553: the mailbox does not exist or is not accepted; retrying will not help.
bool refused_for_good(long smtp_code) { return smtp_code >= 550 && smtp_code <= 553; }

}  // namespace

std::string base64(std::string_view bytes, std::size_t line) {
  std::string encoded = recur::base64(bytes);
  if (line == 0) return encoded;
  std::string out;
  for (std::size_t i = 0; i < encoded.size(); i += line) {
    if (i > 0) out += "\r\n";
    out.append(encoded, i, line);
  }
  return out;
}

std::string rfc5322_date(Timestamp t) {
  static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  CivilTime c = to_civil(t);
  std::int64_t days = days_from_civil(c.date);
  int weekday = static_cast<int>(((days % 7) + 7 + 4) % 7);  // 1970-01-01 was a Thursday
  return fmt::format("{}, {:02} {} {} {:02}:{:02}:{:02} +0000", kDays[weekday], c.date.day, kMonths[c.date.month - 1],
                     c.date.year, c.seconds_of_day / 3600, c.seconds_of_day / 60 % 60, c.seconds_of_day % 60);
}

std::string address_of(std::string_view from) {
  auto open = from.rfind('<');
  auto close = from.rfind('>');
  if (open == std::string_view::npos || close == std::string_view::npos || close < open) return std::string(from);
  return std::string(from.substr(open + 1, close - open - 1));
}

std::string mime_message(const Email& email, std::string_view from, Timestamp date) {
  // Base64 never contains "=_", so the boundaries cannot occur inside a part.
  std::string boundary = "=_recur_" + email.id;
  std::string mixed = "=_recur_mixed_" + email.id;
  const bool with_files = !email.attachments.empty();
  std::string out = fmt::format(
      "Date: {}\r\nMessage-ID: <{}@{}>\r\nFrom: {}\r\nTo: {}\r\nSubject: {}\r\nMIME-Version: 1.0\r\n",
      rfc5322_date(date), email.id, domain_of(address_of(from)), from, email.to, encoded_header_text(email.subject));
  if (with_files)
    out += fmt::format("Content-Type: multipart/mixed; boundary=\"{}\"\r\n\r\n--{}\r\n", mixed, mixed);
  out += fmt::format("Content-Type: multipart/alternative; boundary=\"{}\"\r\n\r\n", boundary);
  out += mime_part(boundary, "text/plain", email.text);
  out += mime_part(boundary, "text/html", email.html);
  out += "--" + boundary + "--\r\n";
  if (!with_files) return out;
  for (const auto& file : email.attachments) {
    std::string name;
    for (char c : file.filename)
      if (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_') name += c;
    if (name.empty()) name = "attachment";
    out += fmt::format(
        "--{}\r\nContent-Type: {}; name=\"{}\"\r\nContent-Disposition: attachment; filename=\"{}\"\r\n"
        "Content-Transfer-Encoding: base64\r\n\r\n{}\r\n",
        mixed, file.content_type, name, name, base64(file.bytes, 76));
  }
  out += "--" + mixed + "--\r\n";
  return out;
}

Status SmtpEmailSender::send(const Email& email) {
  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), curl_easy_cleanup);
  if (!curl) return unavailable("smtp_error", "could not create an SMTP handle");
  std::string mail_from = address_of(options_.from);
  std::string payload = mime_message(email, options_.from, clock_.now());
  Upload upload{payload};
  std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> rcpt(curl_slist_append(nullptr, email.to.c_str()),
                                                                   curl_slist_free_all);
  CURL* h = curl.get();
  curl_easy_setopt(h, CURLOPT_URL, options_.url.c_str());
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
  curl_easy_setopt(h, CURLOPT_MAIL_FROM, ("<" + mail_from + ">").c_str());
  curl_easy_setopt(h, CURLOPT_MAIL_RCPT, rcpt.get());
  if (!options_.username.empty()) {
    curl_easy_setopt(h, CURLOPT_USERNAME, options_.username.c_str());
    curl_easy_setopt(h, CURLOPT_PASSWORD, options_.password.c_str());
  }
  if (options_.starttls) curl_easy_setopt(h, CURLOPT_USE_SSL, static_cast<long>(CURLUSESSL_ALL));
  curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
  curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
  curl_easy_setopt(h, CURLOPT_READDATA, &upload);
  curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(payload.size()));
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(options_.timeout.count()));
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options_.connect_timeout.count()));
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  CURLcode rc = curl_easy_perform(h);
  if (rc == CURLE_OK) return Ok{};
  long code = 0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
  std::string why = std::string("SMTP delivery to ") + email.to + " failed: " + curl_easy_strerror(rc) +
                    (code ? " (server said " + std::to_string(code) + ")" : "");
  if (refused_for_good(code)) return Error::invalid("email_rejected", why);
  return unavailable(rc == CURLE_OPERATION_TIMEDOUT ? "timeout" : "smtp_error", why);
}

Status LogEmailSender::send(const Email& email) {
  spdlog::info("e-mail not sent (no SMTP server configured): {} ({}) to {}", email.id, email.template_name,
               mask_email(email.to));
  return Ok{};
}

}  // namespace recur::notify
