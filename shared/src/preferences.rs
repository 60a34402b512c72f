//! Per-user delivery preferences: category x channel switches with defaults.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::ValidationError;
use crate::event::{check_email, check_phone};
use crate::model::{Category, Channel};

/// The read-only key GET /preferences adds when the email is suppressed.
pub const SUPPRESSED_KEY: &str = "emailSuppressed";

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
    /// Web push, like email, is on for orders and payments (free to send,
    /// and only when no tab of the user is open); announcements are bulk.
    pub fn default_for(category: Category, channel: Channel) -> bool {
        match (category, channel) {
            (_, Channel::InApp) => true,
            (Category::System, Channel::Email | Channel::Push) => false,
            (_, Channel::Email | Channel::Push) => true,
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
        let mut doc: serde_json::Value = serde_json::from_slice(body)
            .map_err(|e| ValidationError::new("body", e.to_string()))?;
        // Read-only: what GET shows of the address's suppression. A client
        // that sends back what it read is not refused for it.
        if let Some(o) = doc.as_object_mut() {
            o.remove(SUPPRESSED_KEY);
        }
        let prefs: Self =
            serde_json::from_value(doc).map_err(|e| ValidationError::new("body", e.to_string()))?;
        if let Some(email) = &prefs.email {
            check_email("email", email)?;
        }
        if let Some(phone) = &prefs.phone {
            check_phone("phone", phone)?;
        }
        Ok(prefs)
    }

    /// Applies an RFC 7396 JSON merge patch: keys it sets win, `null`
    /// removes (an address, or a choice, which then falls back to its
    /// default), keys it leaves out stay. The result is checked as a
    /// whole update would be.
    pub fn merge_patch(&self, patch: &[u8]) -> Result<Self, ValidationError> {
        let patch: serde_json::Value = serde_json::from_slice(patch)
            .map_err(|e| ValidationError::new("body", format!("not valid JSON: {e}")))?;
        if !patch.is_object() {
            return Err(ValidationError::new(
                "body",
                "must be a JSON object (a merge patch of the preferences)",
            ));
        }
        let mut doc =
            serde_json::to_value(self).map_err(|e| ValidationError::new("body", e.to_string()))?;
        merge(&mut doc, &patch);
        Self::parse_update(doc.to_string().as_bytes())
    }
}

/// RFC 7396 section 2, as written there.
fn merge(target: &mut serde_json::Value, patch: &serde_json::Value) {
    use serde_json::Value;
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Default::default());
    }
    let Value::Object(map) = target else {
        unreachable!("made an object above")
    };
    for (k, v) in patch {
        if v.is_null() {
            map.remove(k);
        } else {
            merge(map.entry(k.clone()).or_insert(Value::Null), v);
        }
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
    fn merge_patch_keeps_what_it_leaves_out_and_null_clears() {
        let p = Preferences::parse_update(
            br#"{"email":"a@b.co","phone":"+4915112345678","channels":{"order":{"email":false},"payment":{"sms":true}}}"#,
        )
        .unwrap();
        let q = p
            .merge_patch(br#"{"channels":{"order":{"sms":true}}}"#)
            .unwrap();
        assert_eq!(q.email.as_deref(), Some("a@b.co"));
        assert_eq!(q.phone.as_deref(), Some("+4915112345678"));
        assert!(!q.enabled(Category::Order, Channel::Email));
        assert!(q.enabled(Category::Order, Channel::Sms));
        assert!(q.enabled(Category::Payment, Channel::Sms));
        let r = q
            .merge_patch(br#"{"phone":null,"channels":{"order":{"email":null}}}"#)
            .unwrap();
        assert_eq!(r.phone, None);
        assert_eq!(r.email.as_deref(), Some("a@b.co"));
        assert!(
            r.enabled(Category::Order, Channel::Email),
            "back to the default"
        );
        for bad in [
            &br#"{"email":"nope"}"#[..],
            br#"{"channels":{"order":{"pigeon":true}}}"#,
            br#"[]"#,
            br#"{"colour":"blue"}"#,
        ] {
            assert!(r.merge_patch(bad).is_err());
        }
    }
}
