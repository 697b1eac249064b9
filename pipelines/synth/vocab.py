"""The words the files use and how often each is drawn (codes index these tuples)."""

from __future__ import annotations

TOPICS = ("career", "goals", "feedback", "project", "wellbeing")
TOPIC_P = (0.35, 0.3, 0.5, 0.15)  # goals, feedback, project, wellbeing (career is per person)
ITEMS = ("freedom", "voice", "decisions", "growth")
STATUS_1ON1 = ("held", "cancelled", "no_show")
NO_SHOW_P = 0.03
DEPARTMENTS = (
    "Engineering", "Sales", "Customer Success", "Marketing", "Product", "Operations",
    "Finance", "People", "Data", "Design", "Legal", "Support",
)
# relative department sizes (in `DEPARTMENTS` order)
DEPARTMENT_WEIGHT = (1.8, 1.4, 1.1, 0.8, 0.8, 0.8, 0.6, 0.55, 0.8, 0.6, 0.45, 1.0)
ROLES = (
    ("Software Engineer", "QA Engineer", "Site Reliability Engineer"),
    ("Account Executive", "Sales Development Rep", "Solutions Consultant"),
    ("Customer Success Manager", "Onboarding Specialist", "Renewals Specialist"),
    ("Marketing Specialist", "Content Strategist", "Growth Marketer"),
    ("Product Manager", "Product Analyst", "Technical Writer"),
    ("Operations Analyst", "Program Coordinator", "Facilities Coordinator"),
    ("Financial Analyst", "Accountant", "Payroll Specialist"),
    ("HR Business Partner", "Recruiter", "People Operations Specialist"),
    ("Data Analyst", "Data Scientist", "Data Engineer"),
    ("Product Designer", "UX Researcher", "Brand Designer"),
    ("Legal Counsel", "Paralegal", "Compliance Analyst"),
    ("Support Engineer", "Support Specialist", "Support Analyst"),
)
SENIORITY = ("", "Senior ", "Staff ", "Principal ")
LOCATIONS = ("London", "Berlin", "New York", "Austin", "Remote", "Lisbon", "Singapore", "Toronto")
LOCATION_P = (0.22, 0.14, 0.16, 0.1, 0.18, 0.07, 0.06, 0.07)
FIRST = (
    "Ada", "Alan", "Amara", "Ana", "Arjun", "Bea", "Ben", "Carla", "Chen", "Chloé", "Dan",
    "Dara", "Elena", "Emeka", "Eva", "Farah", "Felix", "Grace", "Hana", "Hugo", "Inês",
    "Ivan", "Jade", "Jonas", "José", "Kai", "Kemi", "Lars", "Lea", "Leo", "Lina", "Luca",
    "Maya", "Mei", "Mo", "Nadia", "Nina", "Noah", "Omar", "Priya", "Raj", "Rosa", "Sam",
    "Sara", "Søren", "Tariq", "Tom", "Uma", "Yara", "Zoë",
)
LAST = (
    "Adeyemi", "Ali", "Bauer", "Brown", "Cohen", "Costa", "Dubois", "Eriksen", "Fischer",
    "García", "Haddad", "Ito", "Jensen", "Kim", "Kowalski", "Larsen", "Lopez", "Müller",
    "Murphy", "Nakamura", "Nguyen", "Novak", "Okafor", "Patel", "Petrov", "Quinn", "Rossi",
    "Santos", "Schmidt", "Silva", "Singh", "Smith", "Tanaka", "Usman", "Varga", "Wang",
    "Weber", "Xu", "Yilmaz", "Zhang",
)
CHANNELS = ("peer-app", "slack", "email", "all-hands")
CHANNEL_P = (0.5, 0.3, 0.12, 0.08)
POINTS = (5, 10, 20, 50)
POINTS_P = (0.4, 0.3, 0.2, 0.1)
MESSAGES = (
    "Thanks for the help with the release!",
    "Great job on the customer demo, really well done.",
    'You went "above and beyond" on the migration.',
    "Thank you for covering for me this week",
    "Calm, clear and quick during the incident, thanks!",
    "Loved your write-up, so easy to follow.",
    'Thanks for the "quick question" that saved us a week',
    "Brilliant onboarding session, thank you",
    "Thanks for pairing with me on the tricky bug.",
    "Your feedback on the plan made it much better, thanks.",
    "Huge thanks for staying late to ship the fix",
    "Thank you for mentoring the new joiners, they love it",
    "Great presentation at the all-hands!",
    'Thanks for saying "no" to scope creep, and explaining why.',
    "Thanks for tidying up the backlog",
    "You made the quarter-end close painless, thank you.",
)
LEARNING_KINDS = ("course", "book", "workshop", "conference", "mentoring", "certification")
LEARNING_P = (0.42, 0.16, 0.16, 0.06, 0.12, 0.08)
DURATIONS = (15, 25, 30, 45, 60)
DURATION_P = (0.1, 0.2, 0.45, 0.15, 0.1)
