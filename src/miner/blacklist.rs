//! The base miner's blacklist (2023 text-prompting `Miner.blacklist`), checked before signature verification like
//! the SDK's axon does (spec §2.5 step 3). The caller hotkey is the *unverified* `bt_header_dendrite_hotkey`; a
//! forged claim gets through here only to fail the signature check next.

use super::{BlacklistSettings, MetagraphSnapshot};

/// Who the caller is in the metagraph, for the priority queue and the logs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Admission {
    /// The caller's uid, when registered.
    pub uid: Option<u16>,
    /// The caller's stake in TAO (0 when unregistered): its priority.
    pub stake: f64,
}

/// Decide whether `hotkey` may call, in the base miner's order: whitelist (allowed), blacklist (refused), registration
/// (unless `allow_non_registered`), validator permit (if forced), minimum stake. An unregistered caller that is let
/// through counts as stake 0 without a permit.
///
/// # Errors
/// The reason, which the server sends as `Forbidden. Key is blacklisted: {reason}.` with status 403.
pub fn check(
    settings: &BlacklistSettings,
    metagraph: Option<&MetagraphSnapshot>,
    hotkey: Option<&str>,
) -> Result<Admission, String> {
    let shown = hotkey.unwrap_or("None");
    let neuron = hotkey.and_then(|h| metagraph.and_then(|m| m.neuron(h)));
    let admission = Admission {
        uid: neuron.map(|n| n.uid),
        stake: neuron.map_or(0.0, |n| n.stake),
    };
    if let Some(h) = hotkey {
        if settings.whitelist.iter().any(|w| w == h) {
            return Ok(admission);
        }
        if settings.blacklist.iter().any(|b| b == h) {
            return Err(format!("Blacklisted hotkey {h}"));
        }
    }
    if neuron.is_none() && !settings.allow_non_registered {
        return Err(if metagraph.is_none() {
            format!(
                "Unrecognized hotkey {shown} (the miner has no metagraph yet and allow_non_registered is off)"
            )
        } else {
            format!("Unrecognized hotkey {shown}")
        });
    }
    if settings.force_validator_permit && !neuron.is_some_and(|n| n.validator_permit) {
        return Err(format!("Non-validator hotkey {shown}"));
    }
    if admission.stake < settings.minimum_stake_requirement {
        return Err(format!(
            "Stake {} TAO of hotkey {shown} is below the minimum {} TAO",
            admission.stake, settings.minimum_stake_requirement
        ));
    }
    Ok(admission)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bittensor::metagraph::Metagraph;

    const A: &str = "5DSaCVFqgnnk3sghDdeJhMsEwksg9FKLA34cgdk5BkGUFjY4";
    const B: &str = "5ELTaxoucN2THxQwJzpXaKBx9daaciprmB6VRb4MQqE7iCcS";

    fn snap() -> MetagraphSnapshot {
        let json = format!(
            r#"{{"netuid":1,"neurons":[{{"uid":3,"hotkey":"{A}","ip":"127.0.0.1","port":1,"stake":5.0,"validator_permit":true}}]}}"#
        );
        MetagraphSnapshot::new(Metagraph::from_json_str(&json).expect("metagraph"))
    }

    #[test]
    fn order_and_rules() {
        let m = snap();
        let mut s = BlacklistSettings::default();
        assert_eq!(
            check(&s, Some(&m), Some(A)),
            Ok(Admission {
                uid: Some(3),
                stake: 5.0
            })
        );
        assert_eq!(
            check(&s, Some(&m), Some(B)).unwrap_err(),
            format!("Unrecognized hotkey {B}")
        );
        assert!(check(&s, None, Some(A))
            .unwrap_err()
            .contains("no metagraph yet"));
        assert!(check(&s, Some(&m), None).is_err());
        s.whitelist = vec![B.into()];
        s.blacklist = vec![A.into(), B.into()];
        assert!(check(&s, None, Some(B)).is_ok(), "whitelist wins");
        assert!(check(&s, Some(&m), Some(A))
            .unwrap_err()
            .starts_with("Blacklisted"));
        let mut s = BlacklistSettings {
            allow_non_registered: true,
            ..BlacklistSettings::default()
        };
        assert_eq!(check(&s, Some(&m), Some(B)).map(|a| a.uid), Ok(None));
        s.force_validator_permit = true;
        assert!(check(&s, Some(&m), Some(B)).is_err());
        assert!(check(&s, Some(&m), Some(A)).is_ok());
        s.minimum_stake_requirement = 5.5;
        assert!(check(&s, Some(&m), Some(A))
            .unwrap_err()
            .contains("below the minimum 5.5 TAO"));
    }
}
