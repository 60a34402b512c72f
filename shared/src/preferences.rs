//! Per-user delivery preferences: category x channel switches with defaults.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::ValidationError;
use crate::event::{check_email, check_phone};
use crate::model::{Category, Channel};

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Preferences {
    /// Address for the email channel when an event carries none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// E.164 number for the SMS channel when an event carries none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// Only what the user set; everything else falls back to [`Preferences::default_for`].
    #[serde(default)]
    pub channels: BTreeMap<Category, BTreeMap<Channel, bool>>,
}

impl Preferences {
    /// In-app is on for everything; email for orders and payments, not for
    /// system announcements (which are bulk by nature); SMS costs money per
    /// message, so users opt in.
    pub fn default_for(category: Category, channel: Channel) -> bool {
        match (category, channel) {
            (_, Channel::InApp) => true,
            (Category::System, Channel::Email) => false,
            (_, Channel::Email) => true,
            (_, Channel::Sms) => false,
        }
    }

    pub fn enabled(&self, category: Category, channel: Channel) -> bool {
        self.channels
            .get(&category)
            .and_then(|m| m.get(&channel))
            .copied()
            .unwrap_or_else(|| Self::default_for(category, channel))
    }

    /// Every category and channel spelled out, defaults filled in.
    pub fn effective(&self) -> Self {
        let channels = Category::ALL
            .into_iter()
            .map(|cat| {
                let per = Channel::ALL
                    .into_iter()
                    .map(|ch| (ch, self.enabled(cat, ch)))
                    .collect();
                (cat, per)
            })
            .collect();
        Self {
            email: self.email.clone(),
            phone: self.phone.clone(),
            channels,
        }
    }

    /// Parses an update body; unknown categories, channels or keys are refused.
    pub fn parse_update(body: &[u8]) -> Result<Self, ValidationError> {
        let prefs: Self = serde_json::from_slice(body)
            .map_err(|e| ValidationError::new("body", e.to_string()))?;
        if let Some(email) = &prefs.email {
            check_email("email", email)?;
        }
        if let Some(phone) = &prefs.phone {
            check_phone("phone", phone)?;
        }
        Ok(prefs)
    }

    /// Applies an update on top of these preferences (set keys win).
    pub fn merged(&self, update: &Self) -> Self {
        let mut out = self.clone();
        if update.email.is_some() {
            out.email = update.email.clone();
        }
        if update.phone.is_some() {
            out.phone = update.phone.clone();
        }
        for (cat, per) in &update.channels {
            let slot = out.channels.entry(*cat).or_default();
            for (ch, on) in per {
                slot.insert(*ch, *on);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_apply_where_unset() {
        let p = Preferences::default();
        assert!(p.enabled(Category::Order, Channel::InApp));
        assert!(p.enabled(Category::Payment, Channel::Email));
        assert!(!p.enabled(Category::System, Channel::Email));
    }

    #[test]
    fn user_choice_wins_over_default() {
        let p = Preferences::parse_update(br#"{"channels":{"order":{"email":false}}}"#).unwrap();
        assert!(!p.enabled(Category::Order, Channel::Email));
        assert!(p.enabled(Category::Order, Channel::InApp));
        assert!(p.enabled(Category::Payment, Channel::Email));
        let eff = p.effective();
        assert_eq!(eff.channels.len(), 3);
        assert!(!eff.channels[&Category::Order][&Channel::Email]);
        assert!(!eff.channels[&Category::System][&Channel::Email]);
    }

    #[test]
    fn unknown_keys_are_refused() {
        for bad in [
            r#"{"channels":{"shipping":{"email":true}}}"#,
            r#"{"channels":{"order":{"pigeon":true}}}"#,
            r#"{"channels":{"order":{"email":"yes"}}}"#,
            r#"{"colour":"blue"}"#,
            r#"{"email":"nope"}"#,
        ] {
            assert!(Preferences::parse_update(bad.as_bytes()).is_err(), "{bad}");
        }
    }

    #[test]
    fn merge_keeps_unrelated_choices() {
        let a = Preferences::parse_update(br#"{"channels":{"order":{"email":false}}}"#).unwrap();
        let b = Preferences::parse_update(
            br#"{"email":"a@b.co","channels":{"payment":{"in_app":false}}}"#,
        )
        .unwrap();
        let m = a.merged(&b);
        assert!(!m.enabled(Category::Order, Channel::Email));
        assert!(!m.enabled(Category::Payment, Channel::InApp));
        assert_eq!(m.email.as_deref(), Some("a@b.co"));
    }
}
