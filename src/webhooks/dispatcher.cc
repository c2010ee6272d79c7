// The background webhook sender.
#include "webhooks/dispatcher.h"

#include <spdlog/spdlog.h>

namespace recur::webhooks {

Dispatcher::Dispatcher(WebhookService& service, std::chrono::milliseconds idle_poll)
    : service_(service), idle_poll_(idle_poll) {
  int senders = std::max(1, service_.options().senders);
  for (int i = 0; i < senders; ++i) senders_.emplace_back([this] { sender_loop(); });
  pump_ = std::thread([this] { pump_loop(); });
}

Dispatcher::~Dispatcher() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  work_.notify_all();
  freed_.notify_all();
  pump_.join();
  for (auto& t : senders_) t.join();  // each drains the queue first: claimed work is sent
}

Dispatcher::Pause::Pause(Dispatcher& d) : d_(d) {
  std::unique_lock lock(d_.mu_);
  ++d_.paused_;
  d_.freed_.wait(lock, [this] { return d_.busy_ == 0; });
}

Dispatcher::Pause::~Pause() {
  {
    std::lock_guard lock(d_.mu_);
    --d_.paused_;
  }
  d_.freed_.notify_all();
}

DeliveryReport Dispatcher::take_report() {
  std::lock_guard lock(mu_);
  DeliveryReport out = report_;
  report_ = {};
  return out;
}

void Dispatcher::pump_loop() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    bool claimed = false;
    if (paused_ == 0 && busy_ < static_cast<int>(senders_.size())) {
      lock.unlock();
      try {
        claimed = pump();
      } catch (const std::exception& e) {
        spdlog::error("webhook delivery aborted: {}", e.what());
      }
      lock.lock();
    }
    // Claimed something: look again as soon as a sender is free. Nothing due: wait a while.
    if (claimed) {
      freed_.wait_for(lock, idle_poll_, [this] {
        return stopping_ || (paused_ == 0 && busy_ < static_cast<int>(senders_.size()));
      });
    } else {
      freed_.wait_for(lock, idle_poll_, [this] { return stopping_; });
    }
  }
}

bool Dispatcher::pump() {
  auto fanned = service_.fan_out();
  if (!fanned.ok()) spdlog::error("webhook fan-out failed: {}", fanned.error().message);
  int free = 0;
  std::vector<std::pair<std::string, int>> in_flight;
  {
    std::lock_guard lock(mu_);
    if (paused_ > 0 || stopping_) return false;
    free = static_cast<int>(senders_.size()) - busy_;
    for (const auto& [endpoint, n] : in_flight_)
      if (n > 0) in_flight.emplace_back(endpoint, n);
    if (fanned.ok()) {
      report_.fanned_out += fanned->fanned_out;
      report_.created += fanned->created;
    }
  }
  if (free <= 0) return false;
  // The claim's time comes from the service's clock, as each attempt's does.
  auto claims = service_.claim_due(service_.now(), free, in_flight);
  if (!claims.ok()) {
    if (claims.error().kind != ErrorKind::kConflict)
      spdlog::error("webhook claim failed: {}", claims.error().message);
    return false;
  }
  if (claims->empty()) return false;
  {
    std::lock_guard lock(mu_);
    for (auto& c : *claims) {
      ++in_flight_[c.delivery.endpoint_id];
      ++busy_;
      queue_.push_back(std::move(c));
    }
  }
  work_.notify_all();
  return true;
}

void Dispatcher::sender_loop() {
  std::unique_lock lock(mu_);
  for (;;) {
    work_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, and nothing claimed is left unsent
    Claim claim = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    DeliveryReport one;
    Status sent = Ok{};
    try {
      sent = service_.send(claim, one);
    } catch (const std::exception& e) {
      sent = Error::internal(e.what());
    }
    // Not recorded: the lease runs out and the delivery is tried again.
    if (!sent.ok()) spdlog::error("webhook delivery {} not recorded: {}", claim.delivery.id, sent.error().message);
    lock.lock();
    report_.succeeded += one.succeeded;
    report_.retrying += one.retrying;
    report_.failed += one.failed;
    report_.lost += one.lost;
    if (--in_flight_[claim.delivery.endpoint_id] <= 0) in_flight_.erase(claim.delivery.endpoint_id);
    --busy_;
    freed_.notify_all();
  }
}

}  // namespace recur::webhooks
