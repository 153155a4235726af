//! Who an agent is: name, contact, languages, skills. Validated once, here.

use comms_proto::Language;
use serde::{Deserialize, Serialize};

use super::{DomainError, invalid};

const MAX_NAME: usize = 200;
const MAX_EMAIL: usize = 254;
const MAX_EXTENSION: usize = 20;
const MAX_SKILLS: usize = 50;
const MAX_SKILL_NAME: usize = 50;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Skill {
    pub name: String,
    /// 1 (novice) to 5 (expert).
    pub proficiency: u8,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    pub name: String,
    pub email: String,
    /// E.164, or empty.
    pub phone: String,
    /// Digits, or empty.
    pub extension: String,
    pub languages: Vec<Language>,
    pub skills: Vec<Skill>,
}

/// A partial change of the profile; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileChange {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extension: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub languages: Option<Vec<Language>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skills: Option<Vec<Skill>>,
}

pub fn check_name(name: &str) -> Result<(), DomainError> {
    if name.trim().is_empty()
        || name.chars().count() > MAX_NAME
        || name.chars().any(char::is_control)
    {
        return Err(invalid(
            "name",
            format!("1-{MAX_NAME} characters, no control characters"),
        ));
    }
    Ok(())
}

pub fn check_email(email: &str) -> Result<(), DomainError> {
    let ok = email.len() <= MAX_EMAIL
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && domain.contains('.') && !domain.contains('@')
        });
    if ok {
        Ok(())
    } else {
        Err(invalid(
            "email",
            format!("{email:?} is not an email address"),
        ))
    }
}

pub fn check_phone(phone: &str) -> Result<(), DomainError> {
    let digits = phone.strip_prefix('+').unwrap_or("x");
    if phone.is_empty()
        || (digits.len() >= 8
            && digits.len() <= 15
            && !digits.starts_with('0')
            && digits.bytes().all(|b| b.is_ascii_digit()))
    {
        Ok(())
    } else {
        Err(invalid(
            "phone",
            format!("{phone:?} is not an E.164 number like +14155550100"),
        ))
    }
}

pub fn check_extension(extension: &str) -> Result<(), DomainError> {
    if extension.len() <= MAX_EXTENSION && extension.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(invalid(
            "extension",
            format!("up to {MAX_EXTENSION} digits"),
        ))
    }
}

pub fn check_skills(skills: &[Skill]) -> Result<(), DomainError> {
    if skills.len() > MAX_SKILLS {
        return Err(invalid("skills", format!("at most {MAX_SKILLS}")));
    }
    let mut seen = std::collections::HashSet::new();
    for skill in skills {
        let name_ok = !skill.name.is_empty()
            && skill.name.len() <= MAX_SKILL_NAME
            && skill
                .name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
        if !name_ok {
            return Err(invalid(
                "skills",
                format!(
                    "{:?}: names are 1-{MAX_SKILL_NAME} of a-z, 0-9, _ and -",
                    skill.name
                ),
            ));
        }
        if !(1..=5).contains(&skill.proficiency) {
            return Err(invalid(
                "skills",
                format!(
                    "{}: proficiency {} is not 1-5",
                    skill.name, skill.proficiency
                ),
            ));
        }
        if !seen.insert(&skill.name) {
            return Err(invalid("skills", format!("{} is listed twice", skill.name)));
        }
    }
    Ok(())
}

pub fn parse_languages(codes: &[String]) -> Result<Vec<Language>, DomainError> {
    let mut languages = Vec::new();
    for code in codes {
        let language = Language::parse(code).map_err(|e| invalid("languages", e))?;
        if !languages.contains(&language) {
            languages.push(language);
        }
    }
    Ok(languages)
}

impl Profile {
    /// Every field checked; the first fault is reported (the gRPC layer collects all of them).
    pub fn check(&self) -> Result<(), DomainError> {
        check_name(&self.name)?;
        check_email(&self.email)?;
        check_phone(&self.phone)?;
        check_extension(&self.extension)?;
        check_skills(&self.skills)
    }

    pub fn apply(&mut self, change: &ProfileChange) {
        if let Some(name) = &change.name {
            self.name.clone_from(name);
        }
        if let Some(email) = &change.email {
            self.email.clone_from(email);
        }
        if let Some(phone) = &change.phone {
            self.phone.clone_from(phone);
        }
        if let Some(extension) = &change.extension {
            self.extension.clone_from(extension);
        }
        if let Some(languages) = &change.languages {
            self.languages.clone_from(languages);
        }
        if let Some(skills) = &change.skills {
            self.skills.clone_from(skills);
        }
    }

    pub fn proficiency(&self, skill: &str) -> Option<u8> {
        self.skills
            .iter()
            .find(|s| s.name == skill)
            .map(|s| s.proficiency)
    }
}
