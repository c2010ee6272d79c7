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
  for (auto& t : senders_) t.join();  // each finishes the attempt it is making
  {
    std::lock_guard lock(mu_);
    pump_stopping_ = true;
    if (!queue_.empty())
      spdlog::info("webhooks: {} claimed deliveries left unsent; they are sent again when their lease ends",
                   queue_.size());
  }
  wake_.notify_all();
  pump_.join();  // records the outcomes the senders left
}

Dispatcher::Pause::Pause(Dispatcher& d) : d_(d) {
  std::unique_lock lock(d_.mu_);
  ++d_.paused_;
  d_.wake_.notify_all();
  d_.wake_.wait(lock, [this] { return d_.busy_ == 0; });
}

Dispatcher::Pause::~Pause() {
  {
    std::lock_guard lock(d_.mu_);
    --d_.paused_;
  }
  d_.wake_.notify_all();
}

DeliveryReport Dispatcher::take_report() {
  std::lock_guard lock(mu_);
  DeliveryReport out = report_;
  report_ = {};
  return out;
}

int Dispatcher::room() const {
  // Enough claimed to keep every sender busy while the pump claims again, not so much that
  // a claim waits long for its turn (its lease runs meanwhile).
  return 4 * static_cast<int>(senders_.size()) - busy_;
}

void Dispatcher::pump_loop() {
  for (;;) {
    bool recorded = false, claimed = false;
    try {
      recorded = record_done();
      claimed = claim_more();
    } catch (const std::exception& e) {
      spdlog::error("webhook delivery aborted: {}", e.what());
    }
    std::unique_lock lock(mu_);
    if (pump_stopping_ && done_.empty()) return;
    if (recorded || claimed) continue;  // more may be waiting: look again at once
    wake_.wait_for(lock, idle_poll_, [this] { return pump_stopping_ || !done_.empty(); });
  }
}

bool Dispatcher::record_done() {
  std::vector<std::pair<Claim, Attempt>> outcomes;
  {
    std::lock_guard lock(mu_);
    outcomes.swap(done_);
  }
  if (outcomes.empty()) return false;
  DeliveryReport recorded;
  Status stored = service_.record(outcomes, recorded);
  // Not recorded: their leases run out and they are tried again.
  if (!stored.ok()) spdlog::error("webhooks: {} outcomes not recorded: {}", outcomes.size(), stored.error().message);
  {
    std::lock_guard lock(mu_);
    report_.succeeded += recorded.succeeded;
    report_.retrying += recorded.retrying;
    report_.failed += recorded.failed;
    report_.lost += recorded.lost;
    for (const auto& [claim, attempt] : outcomes)
      if (--held_[claim.delivery.endpoint_id] <= 0) held_.erase(claim.delivery.endpoint_id);
    busy_ -= static_cast<int>(outcomes.size());
  }
  wake_.notify_all();  // a pauser may be waiting for busy_ to reach 0
  return true;
}

bool Dispatcher::claim_more() {
  {
    std::lock_guard lock(mu_);
    if (paused_ > 0 || stopping_) return false;
  }
  auto fanned = service_.fan_out();
  if (!fanned.ok()) spdlog::error("webhook fan-out failed: {}", fanned.error().message);
  int room_left = 0;
  std::vector<std::pair<std::string, int>> held;
  {
    std::lock_guard lock(mu_);
    if (fanned.ok()) {
      report_.fanned_out += fanned->fanned_out;
      report_.created += fanned->created;
    }
    if (paused_ > 0 || stopping_) return false;
    room_left = room();
    held.assign(held_.begin(), held_.end());
  }
  if (room_left <= 0) return false;
  // The claim's time comes from the service's clock, as each attempt's does.
  auto claims = service_.claim_due(service_.now(), room_left, service_.options().lane_depth, held);
  if (!claims.ok()) {
    if (claims.error().kind != ErrorKind::kConflict) spdlog::error("webhook claim failed: {}", claims.error().message);
    return false;
  }
  if (claims->empty()) return false;
  {
    std::lock_guard lock(mu_);
    for (auto& c : *claims) {
      ++held_[c.delivery.endpoint_id];
      ++busy_;
      queue_.push_back(std::move(c));
    }
  }
  work_.notify_all();
  return true;
}

std::deque<Claim>::iterator Dispatcher::next_claim() {
  int cap = std::max(1, service_.options().per_endpoint);
  for (auto it = queue_.begin(); it != queue_.end(); ++it) {
    auto sending = sending_.find(it->delivery.endpoint_id);
    if (sending == sending_.end() || sending->second < cap) return it;
  }
  return queue_.end();
}

void Dispatcher::sender_loop() {
  std::unique_lock lock(mu_);
  for (;;) {
    std::deque<Claim>::iterator next;
    work_.wait(lock, [&] { return stopping_ || (next = next_claim()) != queue_.end(); });
    if (stopping_) return;
    Claim claim = std::move(*next);
    queue_.erase(next);
    std::string endpoint = claim.delivery.endpoint_id;
    ++sending_[endpoint];
    lock.unlock();
    Attempt outcome;
    try {
      outcome = service_.attempt(claim);
    } catch (const std::exception& e) {
      outcome.at = service_.now();
      outcome.error = std::string("internal: ") + e.what();
    }
    lock.lock();
    if (--sending_[endpoint] <= 0) sending_.erase(endpoint);
    done_.emplace_back(std::move(claim), std::move(outcome));
    wake_.notify_all();
    work_.notify_all();  // a slot of this endpoint is free again
  }
}

}  // namespace recur::webhooks
