//! The feedback function: SES's email events, from the feedback queue.

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};

use crate::app::App;
use crate::usecases::feedback::record_feedback;

pub async fn handle(app: &App, event: SqsEvent) -> SqsBatchResponse {
    let feedback = app.feedback();
    let feedback = &feedback;
    let response = super::sqs::for_each_record(&event, app.config.batch_concurrency, |body| {
        record_feedback(feedback, body)
    })
    .await;
    super::sqs::flush_stats(app).await;
    response
}
