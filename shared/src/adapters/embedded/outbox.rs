//! The mail port for the local stack: every email is kept in the database
//! (for `GET /dev/outbox`) and written as an `.eml` file you can open.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::Db as Database;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::kv::{ITEMS, partition, put, read, scan, write};
use crate::error::MailError;
use crate::ports::{MailTags, Mailer};
use crate::template::RenderedEmail;

const OUTBOX_PK: &str = "OUTBOX";

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SentEmail {
    /// `email` or `sms`.
    #[serde(default = "email_channel")]
    pub channel: String,
    pub message_id: String,
    pub from: String,
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
    pub sent_at: DateTime<Utc>,
    pub file: String,
}

fn email_channel() -> String {
    "email".into()
}

#[derive(Clone)]
pub struct OutboxMailer {
    db: Arc<Database>,
    from: String,
    dir: PathBuf,
}

impl OutboxMailer {
    pub(super) fn new(db: Arc<Database>, from: &str, dir: &Path) -> Self {
        Self {
            db,
            from: from.to_owned(),
            dir: dir.to_owned(),
        }
    }

    /// Writes the message's file and its record; returns its id.
    async fn keep(
        &self,
        sent: SentEmail,
        file: &Path,
        contents: String,
    ) -> Result<String, MailError> {
        let temp = |e: std::io::Error| MailError::Temporary(e.to_string());
        tokio::fs::create_dir_all(&self.dir).await.map_err(temp)?;
        tokio::fs::write(file, contents).await.map_err(temp)?;
        let id = sent.message_id.clone();
        let k = super::kv::key(OUTBOX_PK, &id);
        write(&self.db, ITEMS, false, move |t| put(t, &k, &sent))
            .await
            .map_err(|e| MailError::Temporary(e.to_string()))?;
        Ok(id)
    }

    /// Everything sent, oldest first.
    pub async fn sent(&self) -> Result<Vec<SentEmail>, crate::error::StoreError> {
        read(&self.db, ITEMS, |t| {
            let (start, end) = partition(OUTBOX_PK);
            Ok(
                scan::<SentEmail>(t, &start, &end, false, |_, _| true, usize::MAX)?
                    .into_iter()
                    .map(|(_, m)| m)
                    .collect(),
            )
        })
        .await
    }
}

/// A MIME message with a text and an HTML part.
fn eml(m: &SentEmail) -> String {
    let boundary = format!("notify-{}", m.message_id);
    format!(
        "Message-ID: <{id}@notify.local>\r\nDate: {date}\r\nFrom: {from}\r\nTo: {to}\r\nSubject: {subject}\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/alternative; boundary=\"{boundary}\"\r\n\r\n\
         --{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n\
         --{boundary}\r\nContent-Type: text/html; charset=utf-8\r\n\r\n{html}\r\n--{boundary}--\r\n",
        id = m.message_id,
        date = m.sent_at.to_rfc2822(),
        from = m.from,
        to = m.to,
        subject = m.subject,
        text = m.text,
        html = m.html,
    )
}

#[async_trait]
impl Mailer for OutboxMailer {
    async fn send(
        &self,
        to: &str,
        email: &RenderedEmail,
        _tags: &MailTags,
    ) -> Result<String, MailError> {
        let message_id = crate::ids::new_id();
        let file = self.dir.join(format!("{message_id}.eml"));
        let sent = SentEmail {
            channel: email_channel(),
            message_id: message_id.clone(),
            from: self.from.clone(),
            to: to.to_owned(),
            subject: email.subject.clone(),
            text: email.text.clone(),
            html: email.html.clone(),
            sent_at: Utc::now(),
            file: file.display().to_string(),
        };
        let contents = eml(&sent);
        self.keep(sent, &file, contents).await
    }
}

#[async_trait]
impl crate::ports::SmsSender for OutboxMailer {
    async fn send_sms(&self, to: &str, text: &str) -> Result<String, MailError> {
        let message_id = crate::ids::new_id();
        let file = self.dir.join(format!("{message_id}.sms.txt"));
        let sent = SentEmail {
            channel: "sms".into(),
            message_id: message_id.clone(),
            from: "SMS".into(),
            to: to.to_owned(),
            subject: String::new(),
            text: text.to_owned(),
            html: String::new(),
            sent_at: Utc::now(),
            file: file.display().to_string(),
        };
        self.keep(sent, &file, format!("To: {to}\n\n{text}\n"))
            .await
    }
}
