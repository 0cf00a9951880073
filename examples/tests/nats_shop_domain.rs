//! Given/when/then tests of the `nats-shop` example's domains (orders and inventory).

#[path = "../examples/nats_shop/domain.rs"]
#[allow(dead_code)]
mod domain;

use domain::*;
use es_core::testing::AggregateTest;

fn placed(total: i64) -> OrderPlaced {
    OrderPlaced {
        customer: "ada".into(),
        sku: "mug".into(),
        quantity: 2,
        total,
    }
}

#[test]
fn an_order_is_placed_once() {
    AggregateTest::<Order>::given_nothing()
        .when(PlaceOrder {
            customer: "ada".into(),
            sku: "mug".into(),
            quantity: 2,
            total: 2500,
        })
        .then([placed(2500)]);
    AggregateTest::<Order>::given([placed(2500)])
        .when(PlaceOrder {
            customer: "ada".into(),
            sku: "mug".into(),
            quantity: 2,
            total: 2500,
        })
        .then_error(OrderError::Exists);
}

#[test]
fn only_a_confirmed_order_is_paid_and_only_the_amount_due() {
    AggregateTest::<Order>::given([placed(2500)])
        .when(PayOrder { amount: 2500 })
        .then_error(OrderError::WrongStatus(OrderStatus::Placed));
    AggregateTest::<Order>::given([OrderEvent::from(placed(2500)), OrderConfirmed {}.into()])
        .when(PayOrder { amount: 100 })
        .then_error(OrderError::WrongAmount {
            paid: 100,
            due: 2500,
        });
    AggregateTest::<Order>::given([OrderEvent::from(placed(2500)), OrderConfirmed {}.into()])
        .when(PayOrder { amount: 2500 })
        .then([OrderPaid { amount: 2500 }])
        .then_state(|order| assert_eq!(order.status, OrderStatus::Paid));
}

#[test]
fn a_cancelled_order_cannot_be_confirmed() {
    AggregateTest::<Order>::given([
        OrderEvent::from(placed(2500)),
        OrderCancelled {
            reason: "no stock".into(),
        }
        .into(),
    ])
    .when(ConfirmOrder)
    .then_error(OrderError::WrongStatus(OrderStatus::Cancelled));
}

#[test]
fn stock_is_reserved_while_available_and_refused_as_an_event_otherwise() {
    AggregateTest::<Stock>::given([Restocked { quantity: 3 }])
        .when(Reserve {
            order: "order-1".into(),
            quantity: 2,
        })
        .then([StockEvent::StockReserved(StockReserved {
            order: "order-1".into(),
            quantity: 2,
        })])
        .then_state(|s| assert_eq!((s.available, s.reserved), (1, 2)));
    AggregateTest::<Stock>::given([StockEvent::Restocked(Restocked { quantity: 1 })])
        .when(Reserve {
            order: "order-2".into(),
            quantity: 3,
        })
        .then([StockEvent::ReservationFailed(ReservationFailed {
            order: "order-2".into(),
            wanted: 3,
            available: 1,
        })]);
}
