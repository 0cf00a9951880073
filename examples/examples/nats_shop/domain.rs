//! The domains of the three services of the `nats-shop` example: orders, inventory, mailer.
//! Each service owns its aggregates and store; they share only event types (a contract).

use es_core::prelude::*;
use serde::{Deserialize, Serialize};

// ---- orders -----------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, DomainEvent)]
#[event(name = "order.placed")]
pub struct OrderPlaced {
    pub customer: String,
    pub sku: String,
    pub quantity: u32,
    pub total: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, DomainEvent)]
#[event(name = "order.confirmed")]
pub struct OrderConfirmed {}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, DomainEvent)]
#[event(name = "order.cancelled")]
pub struct OrderCancelled {
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, DomainEvent)]
#[event(name = "order.paid")]
pub struct OrderPaid {
    pub amount: i64,
}

#[derive(Debug, Clone, PartialEq, DomainEvent)]
pub enum OrderEvent {
    Placed(OrderPlaced),
    Confirmed(OrderConfirmed),
    Cancelled(OrderCancelled),
    Paid(OrderPaid),
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum OrderStatus {
    #[default]
    New,
    Placed,
    Confirmed,
    Cancelled,
    Paid,
}

#[derive(Debug, Default, Aggregate)]
#[aggregate(name = "order", events = OrderEvent)]
pub struct Order {
    pub status: OrderStatus,
    pub customer: String,
    pub total: i64,
}

#[event_handler]
impl Order {
    fn placed(&mut self, e: &OrderPlaced) {
        self.status = OrderStatus::Placed;
        self.customer = e.customer.clone();
        self.total = e.total;
    }
    fn confirmed(&mut self, _: &OrderConfirmed) {
        self.status = OrderStatus::Confirmed;
    }
    fn cancelled(&mut self, _: &OrderCancelled) {
        self.status = OrderStatus::Cancelled;
    }
    fn paid(&mut self, _: &OrderPaid) {
        self.status = OrderStatus::Paid;
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OrderError {
    #[error("the order exists already")]
    Exists,
    #[error("the order is {0:?}")]
    WrongStatus(OrderStatus),
    #[error("paid {paid}, due {due}")]
    WrongAmount { paid: i64, due: i64 },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PlaceOrder {
    pub customer: String,
    pub sku: String,
    pub quantity: u32,
    pub total: i64,
}

#[derive(Debug, Clone)]
pub struct ConfirmOrder;

#[derive(Debug, Clone)]
pub struct CancelOrder {
    pub reason: String,
}

#[derive(Debug, Clone)]
pub struct PayOrder {
    pub amount: i64,
}

#[command_handler]
impl Order {
    fn place(&self, c: PlaceOrder) -> Result<OrderPlaced, OrderError> {
        if self.status != OrderStatus::New {
            return Err(OrderError::Exists);
        }
        Ok(OrderPlaced {
            customer: c.customer,
            sku: c.sku,
            quantity: c.quantity,
            total: c.total,
        })
    }

    fn confirm(&self, _: ConfirmOrder) -> Result<OrderConfirmed, OrderError> {
        match self.status {
            OrderStatus::Placed => Ok(OrderConfirmed {}),
            other => Err(OrderError::WrongStatus(other)),
        }
    }

    fn cancel(&self, c: CancelOrder) -> Result<OrderCancelled, OrderError> {
        match self.status {
            OrderStatus::Placed | OrderStatus::Confirmed => Ok(OrderCancelled { reason: c.reason }),
            other => Err(OrderError::WrongStatus(other)),
        }
    }

    fn pay(&self, c: PayOrder) -> Result<OrderPaid, OrderError> {
        if self.status != OrderStatus::Confirmed {
            return Err(OrderError::WrongStatus(self.status));
        }
        if c.amount != self.total {
            return Err(OrderError::WrongAmount {
                paid: c.amount,
                due: self.total,
            });
        }
        Ok(OrderPaid { amount: c.amount })
    }
}

// ---- inventory --------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, DomainEvent)]
#[event(name = "stock.restocked")]
pub struct Restocked {
    pub quantity: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, DomainEvent)]
#[event(name = "stock.reserved")]
pub struct StockReserved {
    pub order: String,
    pub quantity: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, DomainEvent)]
#[event(name = "stock.reservation_failed")]
pub struct ReservationFailed {
    pub order: String,
    pub wanted: u32,
    pub available: u32,
}

#[derive(Debug, Clone, PartialEq, DomainEvent)]
pub enum StockEvent {
    Restocked(Restocked),
    StockReserved(StockReserved),
    ReservationFailed(ReservationFailed),
}

#[derive(Debug, Default, Aggregate)]
#[aggregate(name = "stock", events = StockEvent)]
pub struct Stock {
    pub available: u32,
    pub reserved: u32,
}

#[event_handler]
impl Stock {
    fn restocked(&mut self, e: &Restocked) {
        self.available += e.quantity;
    }
    fn reserved(&mut self, e: &StockReserved) {
        self.available -= e.quantity;
        self.reserved += e.quantity;
    }
    fn failed(&mut self, _: &ReservationFailed) {}
}

#[derive(Debug, Clone)]
pub struct Restock {
    pub quantity: u32,
}

#[derive(Debug, Clone)]
pub struct Reserve {
    pub order: String,
    pub quantity: u32,
}

#[command_handler]
impl Stock {
    fn restock(&self, c: Restock) -> Result<Restocked, String> {
        Ok(Restocked {
            quantity: c.quantity,
        })
    }

    /// Not enough stock is an outcome the orders service reacts to, so it is an event.
    fn reserve(&self, c: Reserve) -> Result<StockEvent, String> {
        if c.quantity <= self.available {
            Ok(StockEvent::StockReserved(StockReserved {
                order: c.order,
                quantity: c.quantity,
            }))
        } else {
            Ok(StockEvent::ReservationFailed(ReservationFailed {
                order: c.order,
                wanted: c.quantity,
                available: self.available,
            }))
        }
    }
}
